// Whether a click on the element submits a form that the browser's constraint validation will
// stop, and why: each invalid field's name and the browser's own message. Reads `validity`,
// which fires no events (checkValidity() would). Runs in the isolated world.
function (a) {
  let el;
  try { el = find(a); } catch (e) { return { invalid: [] }; }
  if (!el || el.stale) return { invalid: [] };
  const t = el.tagName, ty = (el.getAttribute('type') || '').toLowerCase();
  const submits = (t === 'BUTTON' && (ty === 'submit' || ty === '')) || (t === 'INPUT' && (ty === 'submit' || ty === 'image'));
  const form = submits ? el.form : null;
  if (!form || form.noValidate || el.formNoValidate) return { invalid: [] };
  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim().slice(0, 120);
  const nameOf = (f) => clean(f.getAttribute('aria-label'))
    || clean(f.labels && f.labels[0] && f.labels[0].textContent)
    || clean(f.getAttribute('placeholder')) || clean(f.name) || clean(f.id) || f.tagName.toLowerCase();
  const invalid = [];
  for (const f of form.elements) {
    if (f.willValidate && !f.validity.valid) invalid.push({ name: nameOf(f), message: f.validationMessage });
    if (invalid.length >= 20) break;
  }
  return { invalid };
}
