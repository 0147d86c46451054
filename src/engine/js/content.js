// The document as text, html, or the html of its body for markdown conversion.
function (a) {
  if (a.format === 'html') {
    const dt = document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>\n' : '';
    return dt + document.documentElement.outerHTML;
  }
  if (a.format === 'markdown') return document.body ? document.body.outerHTML : document.documentElement.outerHTML;
  return document.body ? document.body.innerText : (document.documentElement.innerText || '');
}
