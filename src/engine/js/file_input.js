// The file input `a` names, or the one a <label> it names controls: by value its state
// ({found, stale, invalid, file, multiple, disabled}); with `a.ref`, the input itself.
function (a) {
  let el;
  try { el = find(a); } catch (e) { return a.ref ? null : { invalid: e && e.invalid || String(e) }; }
  if (!el) return a.ref ? null : { found: false };
  if (el.stale) return a.ref ? null : { stale: true };
  const input = el.tagName === 'INPUT' && el.type === 'file' ? el
    : (el.tagName === 'LABEL' && el.control && el.control.type === 'file' ? el.control : null);
  if (a.ref) return input;
  return { found: true, file: !!input, multiple: !!(input && input.multiple), disabled: !!(input && input.disabled) };
}
