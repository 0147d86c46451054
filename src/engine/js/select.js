// Selects options of a <select> by value or visible label, firing input and change events.
function (a) {
  const el = find(a);
  if (!el || el.stale) return { error: 'element is gone' };
  if (el.tagName !== 'SELECT') return { error: 'element is a <' + el.tagName.toLowerCase() + '>, not a <select>' };
  if (el.disabled) return { error: 'element is disabled' };
  const opts = Array.from(el.options);
  const picked = [];
  for (const want of a.values) {
    const o = opts.find(o => o.value === want) ||
      opts.find(o => o.label.trim() === want || o.text.trim() === want);
    if (!o) return { missing: want, options: opts.map(o => ({ value: o.value, label: o.label.trim() })) };
    if (o.disabled) return { error: 'option `' + want + '` is disabled' };
    picked.push(o);
  }
  if (!el.multiple && picked.length > 1) return { error: 'the <select> is not multiple; give one value' };
  for (const o of opts) o.selected = picked.includes(o);
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  return { selected: picked.map(o => o.value), labels: picked.map(o => o.label.trim()) };
}
