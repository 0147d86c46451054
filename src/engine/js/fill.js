// Prepares an element for `fill`: focuses it and selects its current content so typed text
// replaces it. Inputs without text editing (date, color, range, ...) get their value set
// directly, with the input and change events a picker would fire. Runs in the isolated world.
function (a) {
  const el = find(a);
  if (!el || el.stale) return { error: 'element is gone' };
  if (el.disabled) return { error: 'element is disabled' };
  if (el.isContentEditable) {
    el.focus();
    const r = document.createRange();
    r.selectNodeContents(el);
    const s = getSelection();
    s.removeAllRanges();
    s.addRange(r);
    return { mode: 'type' };
  }
  const textTypes = ['text', 'search', 'url', 'tel', 'password', 'email', 'number'];
  if (el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && textTypes.includes(el.type))) {
    if (el.readOnly) return { error: 'element is read-only' };
    el.focus();
    el.select();
    return { mode: 'type' };
  }
  const setTypes = ['date', 'time', 'datetime-local', 'month', 'week', 'color', 'range'];
  if (el.tagName === 'INPUT' && setTypes.includes(el.type)) {
    if (el.readOnly) return { error: 'element is read-only' };
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
    setter.call(el, a.value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
    if (el.value !== a.value) return { error: 'value `' + a.value + '` is not valid for <input type=' + el.type + '>' };
    return { mode: 'set' };
  }
  const kind = el.tagName.toLowerCase() + (el.type ? ' type=' + el.type : '');
  return { error: '<' + kind + '> cannot be filled (use select for <select>, check for checkboxes)' };
}
