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
  // A clickable container's actions inside it (its icons, its tree children): its name is
  // its own text without theirs. Kept here so a step's check names it the same way.
  if (!R.kidsOf) R.kidsOf = new WeakMap();
  // This registry's (this document's) identity: an observe on another document starts afresh.
  if (!R.doc) R.doc = Math.random().toString(36).slice(2) + performance.timeOrigin.toString(36);
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
  // Records are compact (see `row`): each node's context (its landmark or heading, shared by
  // hundreds of neighbours) is an index into `contexts`.
  const contexts = [];
  const ROW_KEYS = new Set(['id', 'tag', 'role', 'name', 'box', 'ctx', 'inView', 'light']);
  const contextIds = new Map();
  const contextIndex = (c) => {
    let i = contextIds.get(c);
    if (i === undefined) { i = contexts.length; contexts.push(c); contextIds.set(c, i); }
    return i;
  };
  const images = [];
  let heading = '';
  let total = 0;
  const counts = { forms: 0, passwords: 0, inputs: 0, dialogs: 0, iframes: 0 };

  // An editing host: only elements with the attribute (or a designMode document) can be one;
  // `isContentEditable` alone costs a style update per element.
  const designMode = document.designMode === 'on';
  const editable = (el) => (designMode || el.hasAttribute('contenteditable')) && el.isContentEditable;
  const clean = (s, n) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n || 120);
  // label[for] elements per document or shadow root, built once per root: `el.labels`
  // rescans the document on every call (O(n^2) on forms).
  const labelMaps = new Map();
  function labelsFor(el) {
    const root = el.getRootNode();
    let m = labelMaps.get(root);
    if (!m) {
      m = new Map();
      for (const l of root.querySelectorAll('label[for]')) {
        const id = l.getAttribute('for');
        if (!m.has(id)) m.set(id, []);
        m.get(id).push(l);
      }
      labelMaps.set(root, m);
    }
    const out = el.id ? (m.get(el.id) || []).slice() : [];
    const wrap = el.parentElement && el.parentElement.closest('label');
    if (wrap && !out.includes(wrap) && (!wrap.htmlFor || wrap.htmlFor === el.id)) out.push(wrap);
    return out;
  }
  // Rendered: not display:none, visibility:hidden, content-visibility:hidden (closed
  // <details>), nor inside an aria-hidden subtree.
  function shown(el) {
    if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true })) return false;
    return !el.closest('[aria-hidden="true"]');
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
    if (editable(el)) return 'textbox';
    return '';
  }

  const BLOCK = new Set(['P', 'DIV', 'LI', 'UL', 'OL', 'TR', 'TD', 'TH', 'TABLE', 'SECTION', 'ARTICLE',
    'HEADER', 'FOOTER', 'NAV', 'ASIDE', 'MAIN', 'FORM', 'FIELDSET', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6',
    'BR', 'HR', 'DT', 'DD', 'DL', 'BLOCKQUOTE', 'PRE', 'FIGURE', 'FIGCAPTION', 'ADDRESS']);
  // Text a person cannot read is not read for them either (a way to hide it, e.g. an
  // instruction for an agent): at font-size 0, or painted fully transparent with nothing else
  // drawing it (a gradient through `background-clip: text`, a shadow or a stroke does). Its
  // words are neither written into the readable page nor part of a name; its whitespace still
  // separates the words around it. The walk reads size and fill once per element with words
  // (the size ~4 % of the collector on the bench's large page, the fill within the noise of an
  // interleaved A/B, 0-6 %) and keeps the elements whose
  // words are unreadable in `tinySeen`; names from content skip their text. A name is computed
  // before the walk reaches the element's children, so the names of actions holding such an
  // element are computed again after the walk (on most pages there is none: no cost). Asking
  // inside every name instead cost 8-14 % more.
  let tinySeen = null;
  const NON_SPACE = /\S/;
  // A computed colour with alpha 0: `rgba(0, 0, 0, 0)`, `color(srgb 1 0 0 / 0)`.
  const CLEAR = /^rgba\([^,]*,[^,]*,[^,]*,\s*0\)$|\/\s*0\)$/;
  const unreadable = (st) => st.fontSize === '0px' || (CLEAR.test(st.webkitTextFillColor)
    && st.backgroundClip !== 'text' && st.webkitBackgroundClip !== 'text'
    && st.textShadow === 'none' && !(parseFloat(st.webkitTextStrokeWidth) > 0));
  const unreadableIn = (e) => unreadable(getComputedStyle(e));
  // The element a text node's style comes from: its parent, or the host of the shadow root it
  // sits in directly.
  const styledBy = (textNode) => textNode.parentElement || (textNode.parentNode && textNode.parentNode.host) || null;
  // A text node the walk reaches on its own (in a shadow root, a slot, a summary): whether its
  // element's words are unreadable, kept for names as the walk's own loop does.
  const tinyText = (textNode) => {
    const p = styledBy(textNode);
    if (!p || !unreadableIn(p)) return false;
    (tinySeen || (tinySeen = new Set())).add(p);
    return true;
  };
  // Name from content (accname 2F): the rendered text of the subtree, with images' alt,
  // embedded controls' values, nested aria-labels, open shadow roots and slotted content;
  // hidden descendants never count (unless `all`: content referenced by aria-labelledby).
  function contentName(root, skip, all, depth) {
    let t = '';
    const skipped = Array.isArray(skip) ? (n) => skip.includes(n) : (n) => n === skip;
    // Hidden for a reader: the root's own ancestors are checked once, then each element on the
    // way down (the walk never enters a hidden element, so its descendants are not asked).
    const rootHidden = !all && !!(root.closest && root.closest('[aria-hidden="true"]'));
    const visit = (n, d) => {
      if (d > 30 || t.length > 2000) return;
      if (n.nodeType === 3) {
        if (all || !tinySeen || !tinySeen.has(styledBy(n)) || !NON_SPACE.test(n.data)) t += n.data;
        return;
      }
      if (n.nodeType !== 1 && n.nodeType !== 11) return;
      if (skip && skipped(n)) return;
      if (n.nodeType === 1) {
        const tag = n.tagName;
        if (tag === 'SCRIPT' || tag === 'STYLE' || tag === 'TEMPLATE' || tag === 'NOSCRIPT') return;
        if (!all && n !== root && (rootHidden || n.getAttribute('aria-hidden') === 'true'
            || (n.checkVisibility && !n.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true })))) return;
        if (n !== root) {
          const al = n.getAttribute('aria-label');
          if (al && al.trim()) { t += ' ' + al + ' '; return; }
          if (tag === 'IMG' || (tag === 'INPUT' && n.type === 'image')) { t += ' ' + (n.getAttribute('alt') || '') + ' '; return; }
          if (tag === 'INPUT' || tag === 'TEXTAREA') { if (n.type !== 'hidden' && n.type !== 'password') t += ' ' + (n.value || '') + ' '; return; }
          if (tag === 'SELECT') { const o = n.selectedOptions && n.selectedOptions[0]; t += ' ' + (o ? o.text : '') + ' '; return; }
        }
        if (tag === 'svg' || tag === 'SVG') {
          const title = n.querySelector('title');
          if (title) t += ' ' + title.textContent + ' ';
          return;
        }
        if (tag === 'SLOT') {
          const assigned = n.assignedNodes({ flatten: true });
          if (assigned.length) { for (const a of assigned) visit(a, d + 1); return; }
        }
        // Block boxes are separate words, also the blockified items of a flex or grid row
        // (`<b>Alice</b><span>Meeting</span>` with a gap reads "Alice Meeting"). The style is
        // read only where it decides something: text touching this element on either side.
        let block = BLOCK.has(tag) ? true : null;
        const isBlock = () => block === null ? (block = n !== root && !getComputedStyle(n).display.startsWith('inline')) : block;
        if (t && !/\s$/.test(t) && n.previousSibling && isBlock()) t += ' ';
        const before = t.length;
        if (n.shadowRoot) visit(n.shadowRoot, d + 1);
        else for (let c = n.firstChild; c; c = c.nextSibling) visit(c, d + 1);
        if (t.length > before && !/\s$/.test(t) && n.nextSibling && isBlock()) t += ' ';
        return;
      }
      for (let c = n.firstChild; c; c = c.nextSibling) visit(c, d + 1);
    };
    visit(root, depth || 0);
    return t;
  }

  // Roles whose name may come from their content (accname: "name from content").
  const FROM_CONTENT = new Set(['button', 'link', 'tab', 'menuitem', 'menuitemcheckbox', 'menuitemradio',
    'option', 'treeitem', 'checkbox', 'radio', 'switch', 'generic', 'heading', 'cell', 'row']);

  // The accessible name, in accname's order, resolved in the element's own document or
  // shadow root: aria-labelledby, aria-label, native labels (for and wrapping), input
  // button values and image alts, content (for the roles named from it), title, placeholder.
  function accessibleName(el, role) {
    const root = el.getRootNode();
    const lb = el.getAttribute('aria-labelledby');
    if (lb && root.getElementById) {
      const s = clean(lb.split(/\s+/).map(id => {
        const r = root.getElementById(id);
        return r ? (r === el ? (el.getAttribute('aria-label') || '') : contentName(r, null, true)) : '';
      }).join(' '));
      if (s) return s;
    }
    const al = el.getAttribute('aria-label');
    if (al && al.trim()) return clean(al);
    const t = el.tagName;
    if (t === 'INPUT') {
      const ty = (el.type || 'text').toLowerCase();
      if (['button', 'submit', 'reset'].includes(ty)) {
        return clean(el.value || (ty === 'submit' ? 'Submit' : ty === 'reset' ? 'Reset' : '')) || clean(el.title);
      }
      if (ty === 'image') return clean(el.alt || el.title || 'Submit');
    }
    if (t === 'INPUT' || t === 'SELECT' || t === 'TEXTAREA' || t === 'METER' || t === 'PROGRESS' || (t === 'BUTTON' && el.labels && el.labels.length)) {
      const s = clean(labelsFor(el).filter(l => shown(l) || !shown(el)).map(l => contentName(l, el)).join(' '));
      if (s) return s;
    }
    if (t === 'FIELDSET') {
      const lg = el.querySelector(':scope > legend');
      if (lg) return clean(contentName(lg));
    }
    if (t === 'TABLE' && el.caption) return clean(contentName(el.caption));
    if (t === 'IMG') return clean(el.alt || el.title);
    // An editor without a label: what it shows (its start), as a person would refer to it.
    if (editable(el)) return clean(el.title || el.getAttribute('aria-placeholder') || el.innerText || el.textContent, 60);
    const title = clean(el.title);
    if (FROM_CONTENT.has(role) || t === 'BUTTON' || t === 'A' || t === 'SUMMARY' || t === 'LABEL') {
      const c = clean(contentName(el, R.kidsOf.get(el) || null, false));
      // A lone symbol ("+", "×", "›") says less than the tooltip a person would see.
      if (c && !(title && c.length <= 2 && !/[\p{L}\p{N}]{2}/u.test(c))) return c;
      if (title) return title;
      if (c) return c;
    }
    if (title) return title;
    const ph = el.getAttribute('placeholder') || el.getAttribute('aria-placeholder');
    if (ph && ph.trim()) return clean(ph);
    if (role === 'textbox' || role === 'searchbox' || role === 'combobox' || role === 'listbox' || role === 'spinbutton' || role === 'slider') {
      // No label at all: the field's name or id, which usually say what it is.
      return clean(el.getAttribute('name') || el.id || '');
    }
    return '';
  }

  function visibleStyle(el) {
    if (el.checkVisibility && !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
    const st = getComputedStyle(el);
    return st.pointerEvents !== 'none';
  }

  // Hit-test points of each client rect inside the viewport. Covered only when every probe
  // lands on something unrelated; an element outside the viewport is not probed.
  // Each rect's centre first, then a 3x3 grid in it (as the click does): an element whose
  // centre a neighbour covers but whose other half is free is still reachable.
  const FRACTIONS = [[0.5, 0.5], [0.25, 0.5], [0.75, 0.5], [0.5, 0.25], [0.5, 0.75],
    [0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]];
  function probe(el, off, rects) {
    const root = el.getRootNode && el.getRootNode().elementFromPoint ? el.getRootNode() : el.ownerDocument;
    let probed = 0;
    for (const r of rects) {
      if (r.width <= 0 || r.height <= 0) continue;
      for (const [fx, fy] of FRACTIONS) {
        const x = r.left + r.width * fx, y = r.top + r.height * fy;
        const gx = x + off.x, gy = y + off.y;
        if (gx < 0 || gy < 0 || gx >= vw || gy >= vh) continue;
        probed++;
        const hit = root.elementFromPoint(x, y);
        if (hit && (hit === el || el.contains(hit))) return { covered: false, point: [gx, gy] };
      }
    }
    return { covered: probed > 0, point: null };
  }

  function contentsWidget(el, roleAttr) {
    const explicit = roleAttr ? roleAttr.trim().split(/\s+/)[0] : '';
    return WIDGET_ROLES.has(explicit) || (NATIVE.has(el.tagName) && implicitRole(el) !== '');
  }
  // The boxes of what an element holds (its text and the boxes inside it), and their union;
  // null when it holds nothing with a size.
  function contentRects(el) {
    const range = el.ownerDocument.createRange();
    range.selectNodeContents(el);
    const list = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (!list.length) return null;
    let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    for (const r of list) {
      left = Math.min(left, r.left); top = Math.min(top, r.top);
      right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
    }
    return { list, box: { left, top, right, bottom, width: right - left, height: bottom - top } };
  }

  // The scroll box (overflow auto/scroll, with something to scroll) whose visible area the
  // element lies outside of, named for the agent; null when none clips it.
  function clippingScroller(el, r) {
    for (let a = el.parentElement, d = 0; a && d < 30; a = a.parentElement, d++) {
      const st = getComputedStyle(a);
      if (!/(auto|scroll)/.test(st.overflowY + ' ' + st.overflowX)) continue;
      if (a.scrollHeight <= a.clientHeight && a.scrollWidth <= a.clientWidth) continue;
      // Its visible area is the padding box; a sliver of under 2 px counts as out of view.
      const ar = a.getBoundingClientRect();
      const top = ar.top + a.clientTop, left = ar.left + a.clientLeft;
      const bottom = top + a.clientHeight, right = left + a.clientWidth;
      const h = Math.min(r.bottom, bottom) - Math.max(r.top, top);
      const w = Math.min(r.right, right) - Math.max(r.left, left);
      if (h < 2 || w < 2) {
        const label = a.getAttribute('aria-label') || (a.id ? '#' + a.id : '') || a.tagName.toLowerCase();
        return clean(label, 60);
      }
    }
    return null;
  }

  // The landmark an element is itself (a dialog, form, nav…), or null. `role`: its role
  // attribute (the walk reads it once per element).
  const LANDMARK_TAGS = new Set(['DIALOG', 'FORM', ...Object.keys(LANDMARKS)]);
  function ownLandmark(n, role) {
    if (role === null && !LANDMARK_TAGS.has(n.tagName)) return null;
    if (role === 'dialog' || role === 'alertdialog' || n.tagName === 'DIALOG') return 'dialog: ' + (clean(n.getAttribute('aria-label'), 60) || 'dialog');
    if (n.tagName === 'FORM' || role === 'form') {
      const name = n.getAttribute('aria-label') || n.getAttribute('name') || n.id;
      return 'form' + (name ? ': ' + clean(name, 60) : '');
    }
    const lm = LANDMARKS[n.tagName] || (role && ['navigation', 'banner', 'contentinfo', 'search', 'complementary'].includes(role) ? role : '');
    if (lm && lm !== 'main') return lm + (n.getAttribute('aria-label') ? ': ' + clean(n.getAttribute('aria-label'), 60) : '');
    return null;
  }
  function prefixFor(role, el) {
    if (role === 'link') return 'L';
    if (role === 'option') return 'O';
    if (B_ROLES.has(role)) return 'B';
    if (I_ROLES.has(role) || el.tagName === 'TEXTAREA' || editable(el)) return 'I';
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

  // `ownPointer`: the element's own cursor is pointer, not one inherited from a parent
  // (read while the own-cursor sheet is in place; see withOwnCursor).
  function interactiveRole(el, parentPointer, ownPointer, roleAttr) {
    const t = el.tagName;
    const ra = roleAttr === undefined ? el.getAttribute('role') : roleAttr;
    const explicit = ra ? ra.trim().split(/\s+/)[0] : '';
    if (explicit && WIDGET_ROLES.has(explicit)) return explicit;
    // A label is not an action of its own: its control is, named by it. Only a label whose
    // control is hidden (a styled checkbox or radio) stands in for the control.
    if (t === 'LABEL') {
      const c = el.control;
      if (c && c.tagName === 'INPUT' && !visibleStyle(c)) return implicitRole(c) || 'generic';
      if (c) return '';
    }
    // Shapes inside an SVG are its drawing, not targets, unless made focusable or clickable.
    if (el.ownerSVGElement && !el.hasAttribute('onclick') && !el.hasAttribute('tabindex')) return '';
    if (NATIVE.has(t)) {
      const r = implicitRole(el);
      if (r) return r;
    }
    if (editable(el) && !(el.parentElement && el.parentElement.isContentEditable)) return 'textbox';
    const ti = el.getAttribute('tabindex');
    if (ti !== null && parseInt(ti, 10) >= 0) return 'generic';
    if (el.hasAttribute('onclick')) return 'generic';
    // Read last, and only here: most elements are decided before their style is needed.
    const pointer = typeof ownPointer === 'function' ? ownPointer()
      : ownPointer === undefined ? !parentPointer && getComputedStyle(el).cursor === 'pointer' : ownPointer;
    if (pointer) return 'generic';
    return '';
  }

  function imageCategory(el, r) {
    if (el.tagName === 'svg' || el.tagName === 'SVG') return 'svg';
    const alt = el.getAttribute('alt');
    if (el.getAttribute('role') === 'presentation' || alt === '') return 'decorative';
    if (r.width <= 48 && r.height <= 48) return 'icon';
    return 'content_image';
  }

  // Whether an element inside a clickable container sets `cursor: pointer` itself (an app's
  // `.icon { cursor: pointer }`) or only inherits it. Asked only for elements whose computed
  // cursor is pointer inside such a container, in this order: its inline style; the rules of
  // its root's style sheets that set a pointer cursor (read once per root; :hover and the like
  // dropped); and when a sheet cannot be read (another origin's), a sheet saying `* { cursor:
  // auto }` adopted by that root, under which an inherited pointer reads `auto` and an author's
  // own rule still reads `pointer`. That sheet costs one style recalculation, lives only while
  // this synchronous evaluate runs (no page script, paint or mutation record sees it) and is
  // removed before it returns.
  const cursorSheets = [];
  const cursorRules = new Map();   // root -> combined selector | '' (none) | null (unreadable)
  const adopted = new Set();
  function pointerSelector(root) {
    if (cursorRules.has(root)) return cursorRules.get(root);
    const found = [];
    let readable = true;
    const scan = (rules, depth) => {
      for (const r of rules) {
        if (r.cssRules && depth < 8 && !r.selectorText) { scan(r.cssRules, depth + 1); continue; }
        if (!r.selectorText || !r.style || r.style.cursor !== 'pointer') continue;
        for (const one of r.selectorText.split(',')) {
          if (one.includes('::') || one.includes('&')) continue;
          const sel = one.replace(/:(hover|focus|focus-visible|focus-within|active|visited|link)\b/g, '').trim();
          if (!sel) continue;
          try { root.querySelector(sel); found.push(sel); } catch (e) { /* not a selector here */ }
        }
      }
    };
    const sheets = [...(root.styleSheets || []), ...(root.adoptedStyleSheets || [])];
    for (const sh of sheets) {
      let rules = null;
      try { rules = sh.cssRules; } catch (e) { rules = null; }
      if (!rules) { readable = false; break; }
      scan(rules, 0);
    }
    const out = readable ? found.join(', ') : null;
    cursorRules.set(root, out);
    return out;
  }
  function ownsPointer(el) {
    if (el.style && el.style.cursor) return el.style.cursor === 'pointer';
    const root = el.getRootNode();
    if (!adopted.has(root)) {
      const sel = pointerSelector(root);
      if (sel !== null) {
        try { return sel !== '' && el.matches(sel); } catch (e) { return false; }
      }
      try {
        const win = (root.ownerDocument || root).defaultView;
        if (!win || !('adoptedStyleSheets' in root)) return false;
        const sheet = new win.CSSStyleSheet();
        sheet.replaceSync('* { cursor: auto; }');
        root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
        cursorSheets.push([root, sheet]);
        adopted.add(root);
      } catch (e) { return false; }
    }
    return getComputedStyle(el).cursor === 'pointer';
  }
  function ownCursorOff() {
    for (const [root, sheet] of cursorSheets) {
      try { root.adoptedStyleSheets = root.adoptedStyleSheets.filter(x => x !== sheet); } catch (e) { /* gone with its document */ }
    }
    cursorSheets.length = 0;
  }

  // Clickable containers met in the walk, with the actions found inside each.
  const containers = [];
  // Elements that may lie over others (positioned), and the actions in the viewport, which
  // are hit-tested after the walk if one of those, or a clipping box's edge, is near them.
  const occluders = [];
  const pending = [];
  const IN_WIDGET = { widget: true };

  // The readable page: markdown of what is rendered, in document order, open shadow roots
  // and same-origin iframes included. Hidden content never appears (display/visibility,
  // opacity 0, `hidden`, closed <details>, aria-hidden subtrees, zero-size or clipped boxes, boxes
  // entirely off the page); live regions, alerts, status lines and dialogs are ordinary
  // visible text here, wherever they sit. It is written by the same walk that finds the
  // actions: each element's style is read once for both.
  const readOn = !!opts.pageContent;
  const textCap = opts.textCap || 400000;
  let readable = '';
  let mainTruncated = false;
  const out = [];
  let size = 0;
  let line = '';
  const flush = () => {
    const l = line.replace(/[ \t]+/g, ' ').trim();
    if (l) { out.push(l); size += l.length + 1; }
    line = '';
  };
  // Clipped to nothing or placed off the page. Boxes are read only where that can happen
  // (a positioned element, a block that clips its overflow): reading every element's box
  // would cost more than the rest of the page together.
  const clipped = (el, st, pos, clips) => {
    const placed = pos === 'absolute' || pos === 'fixed';
    if (!placed && !clips) return false;
    const r = el.getBoundingClientRect();
    if (clips && (r.width <= 1 || r.height <= 1)) return true;
    if (!placed) return false;
    if (st.clip && /rect\(\s*0(px)?[ ,]+0(px)?[ ,]+0(px)?[ ,]+0(px)?\s*\)/.test(st.clip) && pos === 'absolute') return true;
    if (st.clipPath && /inset\(\s*50%/.test(st.clipPath)) return true;
    // Off-canvas: entirely left of or above the page (left: -9999px).
    return r.right + window.scrollX <= 0 || r.bottom + window.scrollY <= 0;
  };
  const LIST = new Set(['UL', 'OL']);
  // Links to the page's own origin as paths when asked (observe: the page line has the origin).
  const pageOrigin = location.origin;
  // A link's URL. Reading `href` parses and serialises the URL (microseconds per link on a
  // page of thousands): a plain path (`/p/12?x=1#top`, no dot segments, no `<base>`) on this
  // document is this origin plus the attribute, which is what the parser would answer.
  const PLAIN_PATH = /^\/(?![\/\\])[A-Za-z0-9\-._~!$&()*+,;=:@\/%?#]*$/;
  // `.` and `..` segments, also percent-encoded (`%2e%2e`), are resolved by the parser.
  const DOT_SEGMENT = /(^|\/)(\.|%2e)(\.|%2e)?(\/|$)/i;
  const plainPaths = pageOrigin !== 'null' && !document.querySelector('base[href]');
  function hrefOf(a) {
    const raw = a.getAttribute('href');
    if (raw === null) return '';
    if (plainPaths && a.ownerDocument === document && PLAIN_PATH.test(raw) && !DOT_SEGMENT.test(raw.split(/[?#]/)[0])) return pageOrigin + raw;
    return a.href;
  }
  const linkText = (href) => opts.linkPaths && pageOrigin !== 'null' && href.startsWith(pageOrigin + '/') ? href.slice(pageOrigin.length) : href;
  const SKIP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT', 'HEAD']);
  // Leaves of the readable page: their content is their value, not text.
  const FIELDS = new Set(['INPUT', 'SELECT', 'TEXTAREA']);
  let listDepth = 0;
  // `scrape` reads a part of the page: an element by selector, or the main content.
  // The first of `readableRoot`'s selectors that matches (in that order, not the page's).
  let rootEl = readOn ? document.body : null;
  if (readOn && opts.readableRoot) {
    rootEl = null;
    for (const sel of [].concat(opts.readableRoot)) {
      try { rootEl = document.querySelector(sel); } catch (e) { rootEl = null; }
      if (rootEl) break;
    }
  }
  // Below the root each element's own style decides; the root's ancestors are checked once.
  if (rootEl && rootEl !== document.body && ((rootEl.checkVisibility && !rootEl.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true }))
      || (rootEl.parentElement && rootEl.parentElement.closest('[aria-hidden="true"]')))) rootEl = null;

  // What an element sits in, handed down the walk:
  //   off, frame  where its document's viewport lies in the main frame's, and which frame;
  //   inside      IN_WIDGET (a link, button or other widget), the record of the nearest
  //               clickable container, or null;
  //   landmark    the nearest landmark, form or dialog around it;
  //   text        its text belongs to the readable page (inside the root, not hidden for
  //               a reader); unseen: its parent is visibility:hidden (own text not shown).
  function walk(n, ctx, unseen, d) {
    if (d > 400) return;
    if (n.nodeType === 3) {
      if (unseen || (!ctx.text && ctx.inside === null)) return;
      // Its words may be the readable page's or a name's (it is inside an action).
      const tiny = NON_SPACE.test(n.data) && tinyText(n);
      if (!ctx.text) return;
      if (size > textCap) mainTruncated = true;
      else if (!tiny) line += n.data;
      return;
    }
    if (n.nodeType === 11) { for (const c of n.childNodes) walk(c, ctx, unseen, d + 1); return; }
    if (n.nodeType !== 1) return;
    const el = n, t = el.tagName;
    if (SKIP.has(t)) return;
    const st = getComputedStyle(el);
    const display = st.display;
    if (display === 'none' || el.hidden) return;
    if (t === 'FORM') counts.forms++;
    const roleAttr = el.getAttribute('role');
    if (t === 'DIALOG' || roleAttr === 'dialog') counts.dialogs++;
    if (t === 'INPUT' && el.type === 'password') counts.passwords++;
    if (t.length === 2 && t[0] === 'H' && t[1] >= '1' && t[1] <= '6') {
      const h = clean(el.textContent, 80);
      if (h) heading = h;
    }
    const hiddenHere = st.visibility !== 'visible';
    // Fully transparent here or above: rendered, but nothing a person can see or aim at.
    // Inline-level boxes are never positioned out of flow (an absolute or fixed element
    // computes as a block): their position and overflow are not read.
    const inline = display.startsWith('inline');
    const faded = ctx.faded || st.opacity === '0';
    // What may hide an action from a click without hiding it from the layout: something
    // positioned over it, or the edge of a box that clips its overflow. Only actions near
    // one of those are hit-tested (see `pending`).
    const pos = inline ? 'static' : st.position;
    const clips = display !== 'contents' && !inline && st.overflow !== 'visible';
    if (!hiddenHere && (pos === 'fixed' || pos === 'absolute' || pos === 'sticky' || (pos === 'relative' && st.zIndex !== 'auto'))
        && st.pointerEvents !== 'none') occluders.push({ el, off: ctx.off });
    let text = ctx.text || (readOn && el === rootEl);
    if (text && (el.getAttribute('aria-hidden') === 'true' || (display !== 'contents' && clipped(el, st, pos, clips)))) text = false;
    // Fully transparent text is not written either: a person reads none of it (a menu or
    // tooltip parked at opacity 0 until hovered).
    if (faded) text = false;

    if (t === 'IFRAME' || t === 'FRAME') {
      counts.iframes++;
      let doc = null;
      try { doc = el.contentDocument; } catch (e) { doc = null; }
      if (doc && doc.documentElement) {
        const fr = el.getBoundingClientRect();
        const off = { x: ctx.off.x + fr.left + parseFloat(st.borderLeftWidth || 0) + parseFloat(st.paddingLeft || 0),
                      y: ctx.off.y + fr.top + parseFloat(st.borderTopWidth || 0) + parseFloat(st.paddingTop || 0) };
        const inner = text && !hiddenHere;
        if (inner) flush();
        walk(doc.documentElement, { off, frame: ctx.frame + 1, inside: null, landmark: '', text: false, frameText: inner,
          clip: { el, off: ctx.off, up: ctx.clip }, faded }, false, d + 1);
        if (inner) flush();
      }
      return;
    }
    // A frame's readable part starts at its body.
    if (ctx.frameText && t === 'BODY') text = true;

    if ((t === 'IMG' || t === 'svg') && images.length < 200) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) {
        images.push({
          id: idFor(el, 'F'),
          src: t === 'IMG' ? (el.currentSrc || el.src) : '',
          alt: clean(el.getAttribute('alt') || el.getAttribute('aria-label') || el.getAttribute('title'), 200),
          category: imageCategory(el, r),
          w: Math.round(r.width), h: Math.round(r.height),
          inView: r.bottom + ctx.off.y > 0 && r.top + ctx.off.y < vh,
        });
      }
    }
    // The resolved URL is serialised on every read of `href`: read once, for the action and the text.
    const href = t === 'A' ? hrefOf(el) : '';
    // An SVG drawing is an image, not a target; its shapes are targets only when made so.
    // An element without a box of its own (`display: contents`: a wrapper, a slot) is an
    // action only as a widget (a link or button around a card is, and what it holds is where
    // it is seen and clicked); a pointer cursor alone there is its content's.
    const inside = t === 'svg' || total >= maxNodes || (display === 'contents' && !contentsWidget(el, roleAttr)) ? ctx.inside
      : consider(el, t, st, ctx, hiddenHere, faded, href, roleAttr);
    const own = ownLandmark(el, roleAttr);
    const landmark = own === null ? ctx.landmark : own;

    // The readable page: this element's own marks, its children, then its closing marks.
    const emitting = text && !hiddenHere && display !== 'contents';
    let block = false, link = '', at = 0, lines = 0, list = false, leaf = false;
    if (emitting) {
      if (t === 'BR') { flush(); leaf = true; }
      else if (t === 'IMG') { const a = (el.getAttribute('alt') || '').trim(); if (a && opts.readableImages !== false) line += ` ![${a}]`; leaf = true; }
      else if (FIELDS.has(t) || (t === 'BUTTON' && !el.textContent.trim())) { line += ' '; leaf = true; }
      else if (t === 'svg') leaf = true;
      else {
        block = (BLOCK.has(t) && t !== 'TD' && t !== 'TH') || display === 'block' || display === 'flex' || display === 'grid' || display === 'list-item' || display === 'table-row';
        if (block) flush();
        // Side-by-side boxes (buttons, chips) are separate words: "Share Print", not "SharePrint".
        else if (display !== 'inline') line += ' ';
        if (t.length === 2 && t[0] === 'H' && t[1] >= '1' && t[1] <= '6') line += '#'.repeat(+t[1]) + ' ';
        if (t === 'LI') line += '  '.repeat(Math.max(0, listDepth - 1)) + '- ';
        if (t === 'TR') line += '| ';
        const role = roleAttr;
        if (t === 'DIALOG' || role === 'dialog' || role === 'alertdialog') { flush(); out.push('[dialog' + (el.getAttribute('aria-label') ? ': ' + clean(el.getAttribute('aria-label'), 80) : '') + ']'); }
        if ((role === 'alert' || role === 'status') && el.textContent.trim()) line += `[${role}] `;
        list = LIST.has(t);
        if (list) listDepth++;
        link = href;
        at = line.length; lines = out.length;
      }
    }
    // Fields hold their value, not children to read; a closed <details> shows its summary only.
    if (!FIELDS.has(t)) {
      const childText = text && !leaf;
      const clip = clips ? { el, off: ctx.off, up: ctx.clip } : ctx.clip;
      const childCtx = (inside === ctx.inside && landmark === ctx.landmark && childText === ctx.text && !ctx.frameText && clip === ctx.clip && faded === ctx.faded) ? ctx
        : { off: ctx.off, frame: ctx.frame, inside, landmark, text: childText, frameText: ctx.frameText && t === 'HTML', clip, faded };
      if (t === 'DETAILS' && !el.open) {
        const sum = el.querySelector(':scope > summary');
        if (emitting) flush();
        if (sum) walk(sum, childCtx, hiddenHere, d + 1);
        if (emitting) flush();
      } else if (t === 'SLOT') {
        const assigned = el.assignedNodes({ flatten: true });
        for (const c of (assigned.length ? assigned : el.childNodes)) walk(c, childCtx, hiddenHere, d + 1);
      } else {
        if (el.shadowRoot) { for (const c of el.shadowRoot.childNodes) walk(c, childCtx, hiddenHere, d + 1); }
        else {
          // Text children inline (half the nodes of a page are text): a call each costs more
          // than the append.
          const writes = childCtx.text && !hiddenHere;
          // Its words may be a name's (it is an action or inside one) or the readable page's.
          const asked = (writes || inside !== null) && !hiddenHere;
          let tiny = null;
          for (let c = el.firstChild; c; c = c.nextSibling) {
            if (c.nodeType === 3) {
              if (!asked) continue;
              if (tiny === null) {
                if (!NON_SPACE.test(c.data)) { if (writes && size <= textCap) line += c.data; continue; }
                tiny = unreadable(st);
                if (tiny) (tinySeen || (tinySeen = new Set())).add(el);
              }
              if (!writes) continue;
              if (size > textCap) { mainTruncated = true; continue; }
              if (!tiny || !NON_SPACE.test(c.data)) line += c.data;
            } else walk(c, childCtx, hiddenHere, d + 1);
          }
        }
      }
    }
    if (emitting && !leaf) {
      if (link && !link.startsWith('javascript:') && opts.readableLinks !== false) {
        if (out.length === lines) {
          let txt = clean(line.slice(at), 200);
          const label = clean(el.getAttribute('aria-label') || el.title, 80);
          // As for its name: a lone symbol says less than the tooltip a person would see.
          if (!txt || (label && txt.length <= 2 && !/[\p{L}\p{N}]{2}/u.test(txt))) txt = label || txt || 'link';
          line = line.slice(0, at) + ` [${txt}](${linkText(link)}) `;
        } else line += ` (${linkText(link)})`;
      }
      if (t === 'TD' || t === 'TH') line += ' |';
      if (list) listDepth--;
      if (block) flush();
      else if (display !== 'inline') line += ' ';
    }
  }

  // Whether `el` is an action, and its record if so; answers what its descendants sit in.
  function consider(el, t, st, ctx, hiddenHere, faded, href, roleAttr) {
    const inside = ctx.inside, off = ctx.off, frame = ctx.frame;
    // The cursor is read for every element (a pointer marks a target); inside a clickable
    // container only a pointer the element sets itself does (see ownsPointer).
    const ownPointer = () => inside !== IN_WIDGET && st.cursor === 'pointer'
      && (inside === null || ownsPointer(el));
    const role = interactiveRole(el, inside !== null, ownPointer, roleAttr);
    if (!role) return inside;
    // Parts of a link or button are that link or button, whatever their cursor.
    if (role === 'generic' && inside === IN_WIDGET) return inside;
    // Inside a clickable container, an element with its own handler, cursor, focus or role
    // is a target of its own; the container is listed only if it is one itself.
    const container = inside && inside !== IN_WIDGET ? inside : null;
    let rec = null;
    if (role === 'generic') {
      const ti = el.getAttribute('tabindex');
      rec = { el, node: null, kids: [], own: el.hasAttribute('onclick') || (ti !== null && parseInt(ti, 10) >= 0) };
      containers.push(rec);
      R.kidsOf.delete(el);
    }
    const below = rec || IN_WIDGET;
    total++;

    let box = el.getBoundingClientRect();
    // An inline element's own box is as tall as its font: inside a `font-size: 0` row (a way
    // to drop the gaps between inline-blocks) a link around an icon or a sized span has no
    // height, while what it holds is seen and clicked. Its content's boxes stand in for it.
    let rects = null;
    if ((box.width <= 0 || box.height <= 0) && (st.display.startsWith('inline') || st.display === 'contents')) {
      rects = contentRects(el);
      if (rects) box = rects.box;
    }
    if (box.width <= 0 || box.height <= 0) return below;
    if (hiddenHere || st.pointerEvents === 'none') return below;
    if (faded) return below;
    // Only what is in the viewport can be hit-tested: read client rects just for that.
    const inViewport = box.bottom + off.y > 0 && box.top + off.y < vh && box.right + off.x > 0 && box.left + off.x < vw;
    // Whether something covers it is decided after the walk, when everything that could
    // is known (see `pending`); until then what is in the viewport counts as seen.
    const seen = inViewport;

    const prefix = prefixFor(role, el);
    const gx = box.left + off.x, gy = box.top + off.y;
    const bbox = [Math.round(gx + sx), Math.round(gy + sy), Math.round(box.width), Math.round(box.height)];
    // Listing is viewport first: off-screen elements past the listing budget cannot be
    // listed, so they get a light record (enough to step on them), not a description.
    if (!seen && offscreenFull >= listBudget) {
      const light = { id: idFor(el, prefix), tag: t.toLowerCase(), role, box: bbox, light: true };
      if (t === 'INPUT') light.type = (el.type || 'text').toLowerCase();
      if (role === 'textbox' && editable(el)) light.type = 'contenteditable';
      nodes.push(light);
      if (container) container.kids.push(el);
      if (rec) rec.node = light;
      return below;
    }
    if (!seen) offscreenFull++;
    const name = accessibleName(el, role);
    // A pointer cursor alone over nothing a person can read or see (a decorative icon the
    // author marked aria-hidden) is not a target.
    if (role === 'generic' && !name && !el.hasAttribute('onclick') && !el.hasAttribute('tabindex')
        && !el.querySelector('img, canvas, svg:not([aria-hidden="true"])') && !clean(el.textContent)) return below;
    const node = {
      id: idFor(el, prefix),
      tag: t.toLowerCase(),
      role,
      name,
      box: bbox,
      ctx: contextIndex(ctx.landmark || heading),
    };
    if (seen) node.inView = true;
    if (frame) node.frame = frame;
    if (el.disabled || el.getAttribute('aria-disabled') === 'true') node.disabled = true;
    // Same-origin links as paths when the observe asks (the page line names the origin).
    if (href) node.href = linkText(href);
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT') {
      node.type = t === 'INPUT' ? (el.type || 'text').toLowerCase() : t.toLowerCase();
      if (el.placeholder) node.placeholder = clean(el.placeholder, 80);
      if (el.required) node.required = true;
      if (el.readOnly) node.readonly = true;
      if (node.type !== 'password' && node.type !== 'checkbox' && node.type !== 'radio' && el.value) node.value = clean(el.value, 200);
      if (node.type === 'password' && el.value) node.value = '••••';
      if (el.autocomplete && el.autocomplete !== 'off' && el.autocomplete !== 'on') node.autocomplete = el.autocomplete;
    }
    if (role === 'textbox' && editable(el)) { node.type = 'contenteditable'; node.value = clean(el.innerText, 200); }
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
    if (container) container.kids.push(el);
    if (rec) rec.node = node;
    if (inViewport) pending.push({ el, box, off, clip: ctx.clip, node, rects: rects && rects.list });
    return below;
  }

  // The actions that hold text at font-size 0 get their names again, now that `tinySeen` says
  // which text that is (their ancestors up to 30 levels, from each such element).
  function renameAroundTiny() {
    const holders = new Set();
    for (const e of tinySeen) {
      for (let a = e, d = 0; a && d < 30; a = a.parentElement || (a.parentNode && a.parentNode.host), d++) holders.add(a);
    }
    for (const n of nodes) {
      if (n.light || n.name === undefined) continue;
      const ref = R.byId.get(n.id);
      const el = ref && ref.deref();
      if (el && holders.has(el)) n.name = accessibleName(el, n.role);
    }
  }
  // Zero-size text inside one element (a step's check names it as the observe did).
  function tinyWithin(el) {
    const found = new Set();
    const check = (e) => {
      if (unreadableIn(e)) found.add(e);
      if (e.shadowRoot) for (const x of e.shadowRoot.querySelectorAll('*')) check(x);
    };
    check(el);
    for (const e of el.querySelectorAll('*')) check(e);
    return found.size ? found : null;
  }

  // `verify`: the role and name an id's element has now, computed as an observe would
  // (the engine refuses a step on an element that became something else).
  if (opts.verify) {
    const ref = R.byId.get(opts.verify);
    const el = ref && ref.deref();
    if (!el || !el.isConnected) return { stale: true };
    tinySeen = tinyWithin(el);
    const role = interactiveRole(el, false) || (el.tagName === 'LABEL' && el.control ? implicitRole(el.control) : '');
    return { role, name: accessibleName(el, role), editor: !!el.isContentEditable };
  }

  try {
  walk(document.documentElement, { off: { x: 0, y: 0 }, frame: 0, inside: null, landmark: '', text: false, frameText: false, clip: null, faded: false }, false, 0);
  if (tinySeen) renameAroundTiny();

  // Covered, unless what hides it is the edge of a scroll box it sits in (an inbox, an
  // overflow:auto list): then it is listed as off-screen, in that box; a step on it scrolls
  // the box. Hit tests are slow on big pages (a fraction of a millisecond each), so only an
  // action that a positioned element overlaps, or that reaches past the edge of a box
  // clipping it, is probed; with very many positioned elements, every one is.
  const dropped = new Set();
  {
    const rects = new Map();
    const rectOf = (el, off) => {
      let r = rects.get(el);
      if (!r) { const b = el.getBoundingClientRect(); r = [b.left + off.x, b.top + off.y, b.right + off.x, b.bottom + off.y]; rects.set(el, r); }
      return r;
    };
    const probeAll = occluders.length > 300;
    for (const p of pending) {
      const g = [p.box.left + p.off.x, p.box.top + p.off.y, p.box.right + p.off.x, p.box.bottom + p.off.y];
      let near = probeAll;
      for (let c = p.clip; c && !near; c = c.up) {
        const r = rectOf(c.el, c.off);
        if (g[0] < r[0] - 1 || g[1] < r[1] - 1 || g[2] > r[2] + 1 || g[3] > r[3] + 1) near = true;
      }
      for (let i = 0; i < occluders.length && !near; i++) {
        const o = occluders[i];
        if (o.el === p.el || o.el.contains(p.el) || p.el.contains(o.el)) continue;
        const r = rectOf(o.el, o.off);
        if (r[0] < g[2] && r[2] > g[0] && r[1] < g[3] && r[3] > g[1]) near = true;
      }
      if (!near || !probe(p.el, p.off, p.rects || p.el.getClientRects()).covered) continue;
      const scroller = clippingScroller(p.el, p.box);
      if (!scroller) { dropped.add(p.node); continue; }
      delete p.node.inView;
      p.node.scrollBox = scroller;
    }
  }

  // A clickable container with actions inside is named by its own text, without theirs
  // ("Alice Meeting tomorrow", not "Alice Meeting tomorrow Reply Forward"); one whose
  // whole area is its inner actions (a toolbar of icons) is not a target of its own.
  for (const c of containers) {
    if (!c.node || !c.kids.length) continue;
    R.kidsOf.set(c.el, c.kids);
    if (c.node.name === undefined) continue;
    c.node.name = accessibleName(c.el, 'generic');
    const ownImage = Array.from(c.el.querySelectorAll('img, canvas, svg:not([aria-hidden="true"])'))
      .some(i => shown(i) && !c.kids.some(k => k.contains(i)));
    if (!c.node.name && !c.own && !ownImage) dropped.add(c.node);
  }
  if (dropped.size) {
    const kept = nodes.filter(n => !dropped.has(n));
    nodes.length = 0;
    for (const n of kept) nodes.push(n);
  }

  // Names several actions share ("Add to cart" x 6): each gets the nearest context that tells
  // it apart, found walking up from it: a table row's first cell, a fieldset's legend, the
  // first heading of the nearest container that has one, a form's name.
  const HEADS = 'h1, h2, h3, h4, h5, h6, [role=heading], legend, caption, figcaption';
  // Cards repeat: the actions of one card ask its ancestors for the same first heading.
  const headOf = new Map();   // ancestor -> its first heading element, or null
  const headText = new Map(); // heading -> its text, '' when not shown
  const firstHead = (a) => {
    let h = headOf.get(a);
    if (h === undefined) { h = a.querySelector(HEADS); headOf.set(a, h); }
    return h;
  };
  const textOfHead = (h) => {
    let t = headText.get(h);
    if (t === undefined) { t = shown(h) ? clean(h.textContent, 60) : ''; headText.set(h, t); }
    return t;
  };
  const seen = new Map();
  for (const n of nodes) if (n.name) { const k = n.role + '|' + n.name; seen.set(k, (seen.get(k) || 0) + 1); }
  for (const n of nodes) {
    if (!n.name || seen.get(n.role + '|' + n.name) < 2) continue;
    const ref = R.byId.get(n.id);
    const el = ref && ref.deref();
    if (!el) continue;
    for (let a = el.parentElement, d = 0; a && d < 10 && !n.near; a = a.parentElement, d++) {
      let t = '';
      if (a.tagName === 'TR' && a.cells && a.cells[0] && !a.cells[0].contains(el)) t = clean(a.cells[0].textContent, 60);
      else if (a.tagName === 'FORM') t = clean(a.getAttribute('aria-label') || a.getAttribute('name') || '', 60);
      if (!t) {
        const h = firstHead(a);
        if (h && !h.contains(el)) t = textOfHead(h);
      }
      if (t && t !== n.name) n.near = t;
    }
  }
  // Short names in a calendar or grid ("5", "12"): the grid's caption (month and year) and
  // the field it belongs to (the element whose aria-controls names the grid or its dialog).
  for (const n of nodes) {
    if (n.near || !n.name || n.name.length > 3) continue;
    const ref = R.byId.get(n.id);
    const el = ref && ref.deref();
    const grid = el && el.closest('[role=grid], table');
    if (!grid) continue;
    const groot = grid.getRootNode();
    const lb = grid.getAttribute('aria-labelledby');
    const cap = clean(grid.getAttribute('aria-label')
      || (lb && groot.getElementById ? lb.split(/\s+/).map(i => { const x = groot.getElementById(i); return x ? x.textContent : ''; }).join(' ') : '')
      || (grid.caption ? grid.caption.textContent : ''), 60);
    if (!cap) continue;
    let field = '';
    const holder = grid.closest('[role=dialog], dialog');
    for (const gid of [grid.id, holder && holder.id].filter(Boolean)) {
      const f = groot.querySelector(`[aria-controls~="${CSS.escape(gid)}"]`);
      if (f) { field = accessibleName(f, implicitRole(f) || interactiveRole(f, false) || 'textbox'); break; }
    }
    n.near = cap + (field ? ', for ' + field : '');
  }

  if (readOn) {
    flush();
    // What the browser's own validation says about fields a person has touched.
    for (const f of document.querySelectorAll(':user-invalid')) {
      if (f.validationMessage) out.push(`[invalid] ${clean(accessibleName(f, implicitRole(f)) || f.name || f.id, 80)}: ${f.validationMessage}`);
    }
    readable = out.join('\n');
  }
  // What the page says now: alerts, status lines, live regions (toasts), open dialogs and the
  // browser's validation messages, each once (a region inside another counts with it).
  const said = [];
  {
    // Fewer selectors, filtered here: the list is matched against every element of the page.
    const REGION_ROLES = new Set(['alert', 'status', 'log', 'alertdialog', 'dialog']);
    const LIVE = /^(polite|assertive)$/;
    const regions = [...document.querySelectorAll('[role], [aria-live], output, dialog[open]')].filter(r =>
      REGION_ROLES.has(r.getAttribute('role')) || r.tagName === 'OUTPUT' || (r.tagName === 'DIALOG' && r.open)
      || LIVE.test(r.getAttribute('aria-live') || ''));
    let last = null;
    for (const r of regions) {
      if (said.length >= 50) break;
      if (last && last.contains(r)) continue;
      if (!shown(r)) continue;
      const text = clean(r.innerText, 300);
      if (!text) continue;
      last = r;
      const role = r.getAttribute('role') || (r.tagName === 'DIALOG' ? 'dialog' : r.tagName === 'OUTPUT' ? 'status' : 'live');
      said.push(`[${role}] ${text}`);
    }
    for (const f of document.querySelectorAll(':user-invalid')) {
      if (said.length >= 100) break;
      if (f.validationMessage) said.push(`[invalid] ${clean(accessibleName(f, implicitRole(f)) || f.name || f.id, 80)}: ${f.validationMessage}`);
    }
  }
  const mainHtml = '';
  const icon = document.querySelector('link[rel~="icon"]');
  if (icon && icon.href) images.unshift({ src: icon.href, alt: 'favicon', category: 'favicon', w: 0, h: 0, inView: false });
  const de = document.scrollingElement || document.documentElement;
  const metaDesc = document.querySelector('meta[name="description"]');
  // A string crosses CDP much faster than a returnByValue object of the same size, and a
  // one-byte (ASCII) string about twice as fast as a two-byte one: escape the rest.
  return asciiJson({
    url: location.href,
    title: document.title,
    lang: document.documentElement.lang || '',
    description: metaDesc ? clean(metaDesc.content, 300) : '',
    viewport: [Math.round(sx), Math.round(sy), vw, vh, de.scrollWidth, de.scrollHeight],
    nodes: nodes.map(row), contexts, images, counts,
    capped: total >= maxNodes,
    doc: R.doc, said,
    mainHtml, mainTruncated, readable,
    tookMs: performance.now() - started,
  });
  // A node crosses as a row, [id, tag, role, name, box, context index, flags (1: in view,
  // 2: light), {the rest, when any}], not an object naming every key: bytes are what crossing
  // CDP costs (~40 µs per KB measured here), and rows with context indexes take a third off a
  // 5,000-action page's result (960 to 640 KB on the bench's large page).
  function row(n) {
    let rest = null;
    for (const k in n) {
      if (ROW_KEYS.has(k) || n[k] === undefined) continue;
      if (!rest) rest = {};
      rest[k] = n[k];
    }
    const r = [n.id, n.tag, n.role, n.name || '', n.box, n.ctx === undefined ? null : n.ctx, (n.inView ? 1 : 0) | (n.light ? 2 : 0)];
    if (rest) r.push(rest);
    return r;
  }
  function asciiJson(v) {
    const s = JSON.stringify(v);
    if (!/[^\x00-\x7f]/.test(s)) return s;
    const esc = new Map();
    return s.replace(/[^\x00-\x7f]/g, c => {
      let e = esc.get(c);
      if (!e) { e = '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'); esc.set(c, e); }
      return e;
    });
  }
  } finally { ownCursorOff(); }
}
