// The current value of a form control or editable element.
function (a) {
  const el = document.querySelector(a.selector);
  if (!el) return null;
  return el.isContentEditable ? el.innerText : (el.value !== undefined ? String(el.value) : null);
}
