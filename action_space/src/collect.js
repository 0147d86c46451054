// The in-page collector: one evaluate per observe, in pagepilot's isolated world (page scripts
// can neither see nor alter it). It never writes into the page. It returns compact JSON that
// the action_space crate turns into the agent's view.
//
// Ids: the registry lives in this world, which lives exactly as long as the document, so an
// element keeps its id across observes, new elements get new numbers, numbers are never
// reused, and a cross-document navigation starts afresh by itself.
function (opts) {
  const started = performance.now();
  const R = globalThis.__pp || (globalThis.__pp = {
    ids: new WeakMap(),          // node -> id
    byId: new Map(),             // id -> WeakRef(node)
    next: { L: 0, B: 0, I: 0, O: 0, F: 0, M: 0 },
  });
  const vw = window.innerWidth, vh = window.innerHeight;
  const sx = window.scrollX, sy = window.scrollY;
  const NATIVE = new Set(['A', 'BUTTON', 'INPUT', 'SELECT', 'TEXTAREA', 'SUMMARY']);
  const WIDGET_ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'switch', 'tab', 'menuitem',
    'menuitemcheckbox', 'menuitemradio', 'option', 'textbox', 'searchbox', 'combobox', 'slider',
    'spinbutton', 'listbox', 'treeitem']);
  const B_ROLES = new Set(['button', 'tab', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'checkbox', 'radio', 'switch']);
  const I_ROLES = new Set(['textbox', 'searchbox', 'combobox', 'slider', 'spinbutton', 'listbox']);
  const LANDMARKS = { NAV: 'navigation', HEADER: 'header', FOOTER: 'footer', MAIN: 'main', ASIDE: 'aside', FORM: 'form', DIALOG: 'dialog' };
  const maxNodes = opts.maxNodes || 20000;
  // How many actions the observe can list at most (its max_nb_actions); unset: all.
  const listBudget = opts.maxListed || Infinity;
  let offscreenFull = 0;

  const nodes = [];
  const images = [];
  let heading = '';
  let total = 0;
  const counts = { forms: 0, passwords: 0, inputs: 0, dialogs: 0, iframes: 0 };

  const clean = (s, n) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n || 120);
  // label[for] texts, once: `el.labels` rescans the document on every call (O(n^2) on forms).
  const labelFor = new Map();
  for (const l of document.querySelectorAll('label[for]')) {
    const id = l.getAttribute('for');
    labelFor.set(id, ((labelFor.get(id) || '') + ' ' + (l.textContent || '')).trim());
  }

  function implicitRole(el) {
    const t = el.tagName;
    if (t === 'A') return el.hasAttribute('href') ? 'link' : '';
    if (t === 'BUTTON' || t === 'SUMMARY') return 'button';
    if (t === 'SELECT') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
    if (t === 'TEXTAREA') return 'textbox';
    if (t === 'INPUT') {
      const ty = (el.type || 'text').toLowerCase();
      if (ty === 'checkbox' || ty === 'radio') return ty;
      if (['button', 'submit', 'reset', 'image'].includes(ty)) return 'button';
      if (ty === 'range') return 'slider';
      if (ty === 'number') return 'spinbutton';
      if (ty === 'search') return 'searchbox';
      if (ty === 'hidden') return '';
      return 'textbox';
    }
    if (el.isContentEditable) return 'textbox';
    return '';
  }

  // A wrapping label's own text: without the control's (a <select>'s options) or other fields'.
  function textExcept(root, skip) {
    let t = '';
    const walk = (n) => {
      for (const c of n.childNodes) {
        if (c === skip) continue;
        if (c.nodeType === 3) t += c.data;
        else if (c.nodeType === 1 && !['SELECT', 'TEXTAREA', 'SCRIPT', 'STYLE'].includes(c.tagName)) walk(c);
      }
    };
    walk(root);
    return t;
  }

  function textOf(id, doc) {
    const el = doc.getElementById(id);
    return el ? clean(el.textContent) : '';
  }

  function accessibleName(el, role) {
    const doc = el.ownerDocument;
    const lb = el.getAttribute('aria-labelledby');
    if (lb) {
      const s = lb.split(/\s+/).map(id => textOf(id, doc)).filter(Boolean).join(' ');
      if (s) return s;
    }
    const al = el.getAttribute('aria-label');
    if (al && al.trim()) return clean(al);
    if (NATIVE.has(el.tagName) && el.tagName !== 'A' && el.tagName !== 'SUMMARY') {
      const wrap = el.closest('label');
      const s = clean(((el.id && labelFor.get(el.id)) || '') + ' ' + (wrap ? textExcept(wrap, el) : ''));
      if (s) return s;
    }
    if (el.tagName === 'INPUT') {
      const ty = (el.type || '').toLowerCase();
      if (['button', 'submit', 'reset'].includes(ty)) return clean(el.value || ty);
      if (ty === 'image') return clean(el.alt || el.title || 'image');
    }
    if (el.tagName === 'IMG') return clean(el.alt || el.title);
    if (el.isContentEditable) return clean(el.title || el.innerText || el.textContent, 60);
    if (role === 'textbox' || role === 'searchbox' || role === 'combobox' || role === 'listbox' || role === 'spinbutton' || role === 'slider') {
      // No label: the field's title, else its name or id, which usually say what it is.
      return clean(el.title || el.getAttribute('name') || el.id || '');
    }
    // textContent, not innerText: innerText needs layout and costs ~10x on big pages.
    const t = clean(el.textContent);
    if (t) return t;
    const img = el.querySelector && el.querySelector('img[alt], svg[aria-label], [title]');
    if (img) return clean(img.getAttribute('alt') || img.getAttribute('aria-label') || img.getAttribute('title'));
    return clean(el.title || '');
  }

  function visibleStyle(el) {
    if (el.checkVisibility && !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
    const st = getComputedStyle(el);
    return st.pointerEvents !== 'none';
  }

  // Hit-test the centre of each client rect inside the viewport. Covered only when every
  // probe lands on something unrelated; an element outside the viewport is not probed.
  function probe(el, off, rects) {
    const root = el.getRootNode && el.getRootNode().elementFromPoint ? el.getRootNode() : el.ownerDocument;
    let probed = 0;
    for (const r of rects) {
      if (r.width <= 0 || r.height <= 0) continue;
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      const gx = x + off.x, gy = y + off.y;
      if (gx < 0 || gy < 0 || gx >= vw || gy >= vh) continue;
      probed++;
      const hit = root.elementFromPoint(x, y);
      if (hit && (hit === el || el.contains(hit))) return { covered: false, point: [gx, gy] };
    }
    return { covered: probed > 0, point: null };
  }

  function landmarkOf(el) {
    for (let n = el.parentElement; n; n = n.parentElement) {
      const role = n.getAttribute('role');
      if (role === 'dialog' || role === 'alertdialog' || n.tagName === 'DIALOG') return 'dialog: ' + (clean(n.getAttribute('aria-label'), 60) || 'dialog');
      if (n.tagName === 'FORM' || role === 'form') {
        const name = n.getAttribute('aria-label') || n.getAttribute('name') || n.id;
        return 'form' + (name ? ': ' + clean(name, 60) : '');
      }
      const lm = LANDMARKS[n.tagName] || (role && ['navigation', 'banner', 'contentinfo', 'search', 'complementary'].includes(role) ? role : '');
      if (lm && lm !== 'main') return lm + (n.getAttribute('aria-label') ? ': ' + clean(n.getAttribute('aria-label'), 60) : '');
    }
    return '';
  }

  function prefixFor(role, el) {
    if (role === 'link') return 'L';
    if (role === 'option') return 'O';
    if (B_ROLES.has(role)) return 'B';
    if (I_ROLES.has(role) || el.tagName === 'TEXTAREA' || el.isContentEditable) return 'I';
    return 'M';
  }

  function idFor(el, prefix) {
    const have = R.ids.get(el);
    if (have && have[0] === prefix) return have;
    const id = prefix + (++R.next[prefix]);
    R.ids.set(el, id);
    R.byId.set(id, new WeakRef(el));
    return id;
  }

  function interactiveRole(el, parentPointer) {
    const t = el.tagName;
    const explicit = (el.getAttribute('role') || '').trim().split(/\s+/)[0];
    if (explicit && WIDGET_ROLES.has(explicit)) return explicit;
    if (NATIVE.has(t)) {
      const r = implicitRole(el);
      if (r) return r;
    }
    if (el.isContentEditable && !(el.parentElement && el.parentElement.isContentEditable)) return 'textbox';
    const ti = el.getAttribute('tabindex');
    if (ti !== null && parseInt(ti, 10) >= 0) return 'generic';
    if (el.hasAttribute('onclick')) return 'generic';
    if (!parentPointer && getComputedStyle(el).cursor === 'pointer') return 'generic';
    // A label wrapping an input that is itself hidden (custom checkboxes and radios).
    if (t === 'LABEL') {
      const c = el.control;
      if (c && c.tagName === 'INPUT' && !visibleStyle(c)) return implicitRole(c) || 'generic';
    }
    return '';
  }

  function imageCategory(el, r) {
    if (el.tagName === 'svg' || el.tagName === 'SVG') return 'svg';
    const alt = el.getAttribute('alt');
    if (el.getAttribute('role') === 'presentation' || alt === '') return 'decorative';
    if (r.width <= 48 && r.height <= 48) return 'icon';
    return 'content_image';
  }

  function walk(root, off, frame, insideInteractive) {
    const all = root.querySelectorAll('*');
    const pointerOf = new Map();
    for (const el of all) {
      if (total >= maxNodes) return;
      const t = el.tagName;
      if (/^H[1-6]$/.test(t)) {
        const h = clean(el.innerText || el.textContent, 80);
        if (h) heading = h;
      }
      if (t === 'FORM') counts.forms++;
      if (t === 'DIALOG' || el.getAttribute('role') === 'dialog') counts.dialogs++;
      if (t === 'INPUT' && el.type === 'password') counts.passwords++;
      if (t === 'SCRIPT' || t === 'STYLE' || t === 'TEMPLATE' || t === 'NOSCRIPT' || t === 'HEAD') continue;

      const parent = el.parentElement;
      const parentPointer = parent ? (pointerOf.has(parent) ? pointerOf.get(parent) : false) : false;
      let isPointer = false;

      if (el.shadowRoot) walk(el.shadowRoot, off, frame, false);
      if (t === 'IFRAME' || t === 'FRAME') {
        counts.iframes++;
        let doc = null;
        try { doc = el.contentDocument; } catch (e) { doc = null; }
        if (doc && doc.documentElement) {
          const fr = el.getBoundingClientRect();
          const cs = getComputedStyle(el);
          walk(doc, { x: off.x + fr.left + parseFloat(cs.borderLeftWidth || 0) + parseFloat(cs.paddingLeft || 0),
                      y: off.y + fr.top + parseFloat(cs.borderTopWidth || 0) + parseFloat(cs.paddingTop || 0) }, frame + 1, false);
        }
        continue;
      }

      if (t === 'IMG' || t === 'svg') {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && images.length < 200) {
          images.push({
            id: idFor(el, 'F'),
            src: t === 'IMG' ? (el.currentSrc || el.src) : '',
            alt: clean(el.getAttribute('alt') || el.getAttribute('aria-label') || el.getAttribute('title'), 200),
            category: imageCategory(el, r),
            w: Math.round(r.width), h: Math.round(r.height),
            inView: r.bottom + off.y > 0 && r.top + off.y < vh,
          });
        }
        if (t === 'svg') continue;
      }

      const role = interactiveRole(el, parentPointer);
      if (!role) {
        // Remember pointer cursors so only the outermost of a pointer subtree counts.
        if (parentPointer || getComputedStyle(el).cursor === 'pointer') isPointer = true;
        pointerOf.set(el, isPointer);
        continue;
      }
      pointerOf.set(el, true);
      // Descendants of a link or button inherit its pointer cursor: not separate actions.
      if (role === 'generic' && parentPointer) continue;
      total++;

      const box = el.getBoundingClientRect();
      if (box.width <= 0 || box.height <= 0) continue;
      if (!visibleStyle(el)) continue;
      // Only what is in the viewport can be hit-tested: read client rects just for that.
      const inViewport = box.bottom + off.y > 0 && box.top + off.y < vh && box.right + off.x > 0 && box.left + off.x < vw;
      if (inViewport && probe(el, off, el.getClientRects()).covered) continue;

      const prefix = prefixFor(role, el);
      const gx = box.left + off.x, gy = box.top + off.y;
      const bbox = [Math.round(gx + sx), Math.round(gy + sy), Math.round(box.width), Math.round(box.height)];
      // Listing is viewport first: off-screen elements past the listing budget cannot be
      // listed, so they get a light record (enough to step on them), not a description.
      if (!inViewport && offscreenFull >= listBudget) {
        const light = { id: idFor(el, prefix), tag: t.toLowerCase(), role, box: bbox, inView: false };
        if (t === 'INPUT') light.type = (el.type || 'text').toLowerCase();
        if (el.isContentEditable) light.type = 'contenteditable';
        nodes.push(light);
        continue;
      }
      if (!inViewport) offscreenFull++;
      const node = {
        id: idFor(el, prefix),
        tag: t.toLowerCase(),
        role,
        name: accessibleName(el, role),
        box: bbox,
        inView: inViewport,
        context: landmarkOf(el) || heading,
      };
      if (frame) node.frame = frame;
      if (el.disabled || el.getAttribute('aria-disabled') === 'true') node.disabled = true;
      if (t === 'A' && el.href) node.href = el.href;
      if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT') {
        node.type = t === 'INPUT' ? (el.type || 'text').toLowerCase() : t.toLowerCase();
        if (el.placeholder) node.placeholder = clean(el.placeholder, 80);
        if (el.required) node.required = true;
        if (el.readOnly) node.readonly = true;
        if (node.type !== 'password' && node.type !== 'checkbox' && node.type !== 'radio' && el.value) node.value = clean(el.value, 200);
        if (node.type === 'password' && el.value) node.value = '••••';
        if (el.autocomplete && el.autocomplete !== 'off' && el.autocomplete !== 'on') node.autocomplete = el.autocomplete;
      }
      if (el.isContentEditable) { node.type = 'contenteditable'; node.value = clean(el.innerText, 200); }
      if (role === 'checkbox' || role === 'radio' || role === 'switch') {
        const c = t === 'LABEL' ? el.control : el;
        node.checked = c && 'checked' in c && c.tagName === 'INPUT' ? c.checked : el.getAttribute('aria-checked') === 'true';
      }
      if (t === 'LABEL') node.type = el.control ? (el.control.type || '').toLowerCase() : undefined;
      if (t === 'SELECT') {
        node.multiple = el.multiple;
        node.options = Array.from(el.options).slice(0, 50).map(o => [o.value, clean(o.label || o.text, 60), o.selected]);
        if (el.options.length > 50) node.moreOptions = el.options.length - 50;
      }
      if (el.getAttribute('aria-expanded')) node.expanded = el.getAttribute('aria-expanded') === 'true';
      nodes.push(node);
    }
  }

  walk(document, { x: 0, y: 0 }, 0, false);

  const main = document.querySelector('main, [role=main]') || document.querySelector('article') || document.body;
  let mainHtml = opts.pageContent && main ? main.outerHTML : '';
  const htmlCap = opts.htmlCap || 400000;
  const mainTruncated = mainHtml.length > htmlCap;
  if (mainTruncated) mainHtml = mainHtml.slice(0, htmlCap);
  const icon = document.querySelector('link[rel~="icon"]');
  if (icon && icon.href) images.unshift({ src: icon.href, alt: 'favicon', category: 'favicon', w: 0, h: 0, inView: false });
  const de = document.scrollingElement || document.documentElement;
  const metaDesc = document.querySelector('meta[name="description"]');
  // A string crosses CDP much faster than a returnByValue object of the same size.
  return JSON.stringify({
    url: location.href,
    title: document.title,
    lang: document.documentElement.lang || '',
    description: metaDesc ? clean(metaDesc.content, 300) : '',
    viewport: [Math.round(sx), Math.round(sy), vw, vh, de.scrollWidth, de.scrollHeight],
    nodes, images, counts,
    capped: total >= maxNodes,
    mainHtml, mainTruncated,
    tookMs: performance.now() - started,
  });
}
