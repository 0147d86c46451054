// The current value of a form control or editable element.
function (a) {
  const el = find(a);
  if (!el || el.stale) return null;
  return el.isContentEditable ? el.innerText : (el.value !== undefined ? String(el.value) : null);
}
