// The dashboard's pages (design §7): sign-in, fleet overview, devices, device, models, model
// versions, rollouts. Hash routing, fetch polling every ~2 s with the bearer token from sessionStorage
// (never in a URL, so no EventSource). Browser JavaScript kept as a string; no backticks inside.

export const APP_JS = String.raw`
var TOKEN_KEY = 'edgefleet.token';
var S = { token: sessionStorage.getItem(TOKEN_KEY), role: null, who: null, gen: 0, timer: null, range: 3600e3 };
var TERMINAL = { completed: 1, aborted: 1, 'rolled-back': 1, superseded: 1 };
var STATES = ['idle', 'downloading', 'verifying', 'self-testing', 'active', 'probation', 'rolled-back', 'failed'];
var BAD_EVENTS = { 'rolled-back': 1, 'verification-failed': 1, 'download-failed': 1, 'self-test-failed': 1, 'load-failed': 1, error: 1, 'outbox-dropped': 1, 'device-silent': 1 };
var RANGES = [[3600e3, 'last hour', 60e3], [6 * 3600e3, 'last 6 hours', 300e3], [86400e3, 'last 24 hours', 900e3], [7 * 86400e3, 'last 7 days', 3600e3]];

function el(tag, attrs, children) {
  var n = document.createElement(tag);
  if (attrs) for (var k in attrs) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') n.textContent = String(v);
    else if (k === 'class') n.className = v;
    else if (k.slice(0, 2) === 'on') n.addEventListener(k.slice(2), v);
    else if (k === 'value') n.value = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  (children || []).forEach(function (c) { if (c !== null && c !== undefined && c !== false) n.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c); });
  return n;
}
function link(href, text, cls) { return el('a', { href: href, text: text, class: cls }); }
function pct(v, digits) { return v === null || v === undefined ? '–' : (v * 100).toFixed(digits === undefined ? 1 : digits) + ' %'; }
function ms(v) { return v === null || v === undefined ? '–' : fmtNum(v) + ' ms'; }
function when(iso) { if (!iso) return 'never'; var d = new Date(iso); return isNaN(d.getTime()) ? String(iso) : d.toLocaleString(); }
function ago(iso) {
  if (!iso) return 'never';
  var s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return Math.max(0, s) + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}
function timeCell(iso) { return el('time', { datetime: iso || '', title: when(iso) }, [iso ? when(iso) + ' (' + ago(iso) + ')' : 'never']); }
function badge(text, cls) { return el('span', { class: 'badge ' + (cls || text), text: text }); }
function enc(s) { return encodeURIComponent(s); }
function canOperate() { return S.role === 'operator' || S.role === 'admin'; }
function card(title, children, cls) { return el('section', { class: 'card ' + (cls || '') }, [el('h2', { text: title })].concat(children)); }
function table(headers, rows, cls) {
  return el('div', { class: 'table-wrap' }, [el('table', { class: cls || '' }, [
    el('thead', null, [el('tr', null, headers.map(function (h) { return el('th', { text: h }); }))]),
    el('tbody', null, rows.length ? rows : [el('tr', null, [el('td', { colspan: headers.length, class: 'muted', text: 'nothing here yet' })])]),
  ])]);
}
function tr(cells) { return el('tr', null, cells.map(function (c) { return c instanceof Node ? el('td', null, [c]) : el('td', { text: c === null || c === undefined ? '–' : String(c) }); })); }

function ApiError(status, code, message) { this.status = status; this.code = code; this.message = message; }

function api(method, path, body, token) {
  var headers = { authorization: 'Bearer ' + (token || S.token) };
  var init = { method: method, headers: headers, cache: 'no-store' };
  if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  return fetch('/api/v1' + path, init).then(function (res) {
    return res.text().then(function (text) {
      var data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
      if (!res.ok) {
        var err = data && data.error ? data.error : { code: 'HTTP_' + res.status, message: res.statusText };
        if (res.status === 401 && !token) signOut('The hub refused your token (' + err.message + '); sign in again.');
        throw new ApiError(res.status, err.code, err.message);
      }
      return data;
    });
  });
}

// ---- shell ----

var root, main, whoBox;

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  S.token = null; S.role = null; S.who = null;
  stop();
  renderSignIn(message);
}

function stop() { S.gen++; if (S.timer) clearTimeout(S.timer); S.timer = null; }

function renderSignIn(message) {
  var input = el('input', { id: 'token', type: 'password', name: 'token', autocomplete: 'off', required: true, placeholder: 'ef_…', 'aria-label': 'API token' });
  var status = el('p', { class: 'form-status', role: 'status', text: message || '' });
  var form = el('form', { class: 'signin', onsubmit: function (ev) {
    ev.preventDefault();
    var token = input.value.trim();
    if (!token) return;
    status.textContent = 'checking…';
    api('GET', '/whoami', undefined, token).then(function (who) {
      sessionStorage.setItem(TOKEN_KEY, token); // the tab's session only; never in a URL or cookie
      S.token = token; S.role = who.role; S.who = who;
      start();
    }, function (e) { status.textContent = 'Sign-in failed: ' + e.message; });
  } }, [
    el('h1', { text: 'edgefleet' }),
    el('p', { text: 'Sign in with an API token (viewer, operator or admin). The token stays in this browser tab only.' }),
    el('label', { for: 'token', text: 'API token' }), input,
    el('button', { type: 'submit', id: 'signin', text: 'Sign in' }), status,
  ]);
  root.replaceChildren(el('main', { class: 'signin-page' }, [form]));
  input.focus();
}

function renderShell() {
  var nav = el('nav', { class: 'nav' }, [
    link('#/', 'Overview', 'nav-overview'), link('#/devices', 'Devices', 'nav-devices'),
    link('#/models', 'Models', 'nav-models'), link('#/rollouts', 'Rollouts', 'nav-rollouts'),
  ]);
  whoBox = el('span', { class: 'who' }, [badge(S.role || '?', 'role'), el('button', { class: 'linkish', id: 'signout', text: 'Sign out', onclick: function () { signOut('Signed out.'); } })]);
  main = el('main', { id: 'main' });
  var offset = -new Date().getTimezoneOffset();
  var zone = 'UTC' + (offset >= 0 ? '+' : '-') + String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0') + ':' + String(Math.abs(offset) % 60).padStart(2, '0');
  root.replaceChildren(
    el('header', { class: 'top' }, [el('a', { class: 'brand', href: '#/', text: 'edgefleet' }), nav, whoBox]),
    main,
    el('footer', null, [el('span', { text: 'Times in ' + TZ + ' (' + zone + '). Updates every 2 s.' }), el('span', { id: 'live', class: 'live', text: '' })])
  );
}

function start() {
  renderShell();
  route();
}

var ROUTES = [
  [/^\/?$/, pageOverview], [/^\/devices$/, pageDevices], [/^\/device\/([^/]+)$/, pageDevice],
  [/^\/models$/, pageModels], [/^\/model\/([^/]+)$/, pageModel], [/^\/rollouts$/, pageRollouts], [/^\/rollout\/([^/]+)$/, pageRollout],
];

function parseHash() {
  var h = location.hash.replace(/^#/, '');
  var i = h.indexOf('?');
  return { path: i < 0 ? h : h.slice(0, i), params: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
}

function route() {
  if (!S.token) return renderSignIn();
  stop();
  var gen = S.gen;
  var h = parseHash();
  var page = null, m = null;
  for (var i = 0; i < ROUTES.length; i++) { m = ROUTES[i][0].exec(h.path); if (m) { page = ROUTES[i][1]; break; } }
  document.querySelectorAll('.nav a').forEach(function (a) { a.classList.toggle('current', a.getAttribute('href') === '#/' + (h.path.split('/')[1] || '').replace(/^device$/, 'devices').replace(/^model$/, 'models').replace(/^rollout$/, 'rollouts')); });
  main.replaceChildren();
  if (!page) { main.appendChild(card('Not found', [el('p', { text: 'No page ' + h.path + '.' })])); return; }
  var alive = function () { return gen === S.gen; };
  var ctl = page(main, m.slice(1).map(decodeURIComponent), h.params, alive);
  var live = document.getElementById('live');
  var tick = function () {
    if (!alive()) return;
    ctl.refresh().then(function () {
      if (live && alive()) live.textContent = 'updated ' + new Date().toLocaleTimeString();
    }, function (e) {
      if (!alive() || e.status === 401) return;
      if (live) live.textContent = 'update failed: ' + e.message;
      if (ctl.fail) ctl.fail(e);
    }).then(function () { if (alive()) S.timer = setTimeout(tick, document.hidden ? 10000 : (ctl.interval || 2000)); });
  };
  tick();
}

function whoami() {
  return api('GET', '/whoami').then(function (who) { S.role = who.role; S.who = who; });
}

// ---- rollouts (shared by overview and detail) ----

function waveTotal(w) {
  if (typeof w.devices === 'number') return w.devices;
  if (w.counts && typeof w.counts.total === 'number') return w.counts.total;
  if (Array.isArray(w.deviceIds)) return w.deviceIds.length;
  return null;
}
function waveDone(w) {
  if (typeof w.converged === 'number') return w.converged;
  if (w.counts && typeof w.counts.converged === 'number') return w.counts.converged;
  return null;
}

function progressBar(done, total, label) {
  var frac = total > 0 ? Math.min(1, done / total) : 0;
  var fill = el('div', { class: 'fill' });
  fill.style.width = (frac * 100).toFixed(1) + '%';
  return el('div', { class: 'progress', 'data-done': done, 'data-total': total }, [
    el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done }, [fill]),
    el('span', { class: 'progress-text', text: label || done + ' / ' + total + ' devices' }),
  ]);
}

function gateTable(gates) {
  return table(['gate', 'value', 'limit', 'verdict'], gates.map(function (g) {
    var ratio = /rate|agreement|drop/.test(g.name);
    var fmtv = function (v) { return v === null || v === undefined ? '–' : ratio ? pct(v, 2) : fmtNum(v); };
    return el('tr', { class: 'gate gate-' + g.name }, [
      el('td', { text: g.name, title: g.detail || '' }), el('td', { text: fmtv(g.value) }), el('td', { text: fmtv(g.limit) }),
      el('td', null, [g.pass === true ? badge('pass', 'ok') : g.pass === false ? badge('fail', 'bad') : badge('no verdict', 'muted')]),
    ]);
  }), 'gates');
}

function rolloutProgress(r, fleet) {
  var out = [];
  if (Array.isArray(r.waves) && r.waves.length) {
    r.waves.forEach(function (w, i) {
      var total = waveTotal(w), done = waveDone(w);
      var head = el('div', { class: 'wave-head' }, [
        el('strong', { text: 'Wave ' + ((w.index !== undefined ? w.index : i) + 1) + (w.percent !== undefined ? ' · ' + w.percent + ' %' : '') }),
        w.outcome ? badge(w.outcome, 'wave-' + w.outcome) : null,
      ]);
      var parts = [head];
      if (total !== null) parts.push(progressBar(done === null ? 0 : done, total));
      if (w.counts) parts.push(el('p', { class: 'muted small', text: ['pending', 'converged', 'failed', 'skipped'].filter(function (k) { return w.counts[k] !== undefined; }).map(function (k) { return w.counts[k] + ' ' + k; }).join(' · ') }));
      if (Array.isArray(w.gates) && w.gates.length) parts.push(gateTable(w.gates));
      out.push(el('div', { class: 'wave', 'data-wave': i }, parts));
    });
  } else {
    // all-at-once: progress is the devices that report the version active, out of the target set
    var running = 0;
    (fleet && fleet.versions || []).forEach(function (v) { if (v.model === r.model && v.version === r.version) running = v.devices; });
    var total = typeof r.devices === 'number' ? r.devices : 0;
    out.push(el('div', { class: 'wave', 'data-wave': 0 }, [el('div', { class: 'wave-head' }, [el('strong', { text: 'All at once' })]), progressBar(Math.min(running, total), total, Math.min(running, total) + ' / ' + total + ' devices run ' + r.version)]));
  }
  if (Array.isArray(r.gates) && r.gates.length) out.push(el('h3', { text: 'Gates' }), gateTable(r.gates));
  if (r.pausedReason) out.push(el('p', { class: 'warn', text: 'Paused: ' + r.pausedReason }));
  return el('div', { class: 'rollout-progress' }, out);
}

function rolloutActions(r, after) {
  // an all-at-once rollout is 'completed' as soon as it is issued, and can still be aborted (reverted)
  if (!canOperate() || r.status === 'aborted' || r.status === 'rolled-back' || r.status === 'superseded') return null;
  var msg = el('span', { class: 'action-status', role: 'status' });
  var call = function (action) {
    msg.textContent = action + '…';
    api('POST', '/rollouts/' + enc(r.id) + '/' + action).then(function (res) {
      msg.textContent = action + ' done: rollout is ' + (res && res.rollout ? res.rollout.status : 'updated');
      after();
    }, function (e) { msg.textContent = action + ' refused: ' + e.message; });
  };
  var btn = function (action, label) { return el('button', { class: 'action action-' + action, 'data-action': action, text: label, onclick: function () { call(action); } }); };
  var abort = el('button', { class: 'action action-abort danger', 'data-action': 'abort', text: 'Abort…', onclick: function () {
    if (abort.dataset.armed) { call('abort'); delete abort.dataset.armed; abort.textContent = 'Abort…'; return; }
    abort.dataset.armed = '1'; abort.textContent = 'Confirm abort';
  } });
  var list = [];
  var ended = { aborted: 1, 'rolled-back': 1, superseded: 1 };
  if (r.status === 'paused') list.push(btn('resume', 'Resume'));
  else if (!TERMINAL[r.status]) list.push(btn('pause', 'Pause'));
  if (r.role === 'shadow' && !ended[r.status]) list.push(btn('promote', 'Promote'));
  list.push(abort, msg);
  return el('div', { class: 'actions' }, [el('span', { class: 'muted', text: 'Operator actions:' })].concat(list));
}

/** Running, paused or soaking; or issued all at once with target devices still converging. */
function inProgress(r, fleet) {
  if (!TERMINAL[r.status]) return true;
  if (r.status !== 'completed' || (Array.isArray(r.waves) && r.waves.length)) return false;
  var running = 0;
  (fleet.versions || []).forEach(function (v) { if (v.model === r.model && v.version === r.version) running = v.devices; });
  return running < r.devices;
}

function targetsText(t) {
  if (!t) return '–';
  var parts = [];
  if (t.all) parts.push('all devices');
  (t.tags || []).forEach(function (m) { parts.push(Object.keys(m).map(function (k) { return k + '=' + m[k]; }).join(',')); });
  if (t.devices && t.devices.length) parts.push(t.devices.length + ' listed device' + (t.devices.length > 1 ? 's' : ''));
  return parts.join(' or ');
}

// ---- pages ----

function pageOverview(main, args, params, alive) {
  var box = el('div', { class: 'grid overview' });
  main.appendChild(box);
  return {
    refresh: function () {
      return Promise.all([api('GET', '/fleet/status'), api('GET', '/health/overview'), api('GET', '/rollouts'), S.role ? null : whoami()]).then(function (res) {
        if (!alive()) return;
        var fleet = res[0], ov = res[1], rollouts = res[2].rollouts || [];
        if (whoBox) whoBox.firstChild.textContent = S.role;
        var d = ov.devices;
        var stat = function (key, n, label, href, cls) { return el('a', { class: 'stat ' + cls, href: href, 'data-count': key }, [el('span', { class: 'num', text: String(n) }), el('span', { class: 'lbl', text: label })]); };
        var devices = card('Devices', [el('div', { class: 'stats' }, [
          stat('online', d.online, 'online', '#/devices?online=true', 'ok'),
          stat('offline', d.offline, 'offline', '#/devices?online=false', d.offline ? 'warn' : ''),
          stat('silent', d.silent, 'silent > ' + d.silentMinutes + ' min', '#/devices?silentMinutes=' + d.silentMinutes, d.silent ? 'bad' : ''),
          stat('total', d.total, 'registered', '#/devices', ''),
        ])], 'card-devices');
        var byModel = {};
        fleet.versions.forEach(function (v) { (byModel[v.model] = byModel[v.model] || []).push(v); });
        var versions = card('Versions in use', Object.keys(byModel).length ? Object.keys(byModel).map(function (m) {
          var total = byModel[m].reduce(function (s, v) { return s + v.devices; }, 0);
          return el('div', { class: 'model-versions', 'data-model': m }, [el('h3', null, [link('#/model/' + enc(m), m)])].concat(byModel[m].map(function (v) {
            return el('div', { class: 'version-row', 'data-version': v.version }, [el('span', { class: 'v', text: v.version }), progressBar(v.devices, total, v.devices + ' device' + (v.devices === 1 ? '' : 's'))]);
          })));
        }) : [el('p', { class: 'muted', text: 'No device reports an active model yet.' })], 'card-versions');
        var health = card('Health, last ' + fleet.sinceMinutes + ' min', [table(['model version', 'role', 'devices', 'inferences', 'error rate', 'p95 latency'], fleet.health.map(function (h) {
          return tr([link('#/model/' + enc(h.model) + '?v=' + enc(h.version), h.model + '@' + h.version), h.role, h.reportingDevices, fmtNum(h.inferences), el('span', { class: h.errorRate > 0.05 ? 'bad' : '', text: pct(h.errorRate, 2) }), ms(h.latencyMs.p95)]);
        }))], 'card-health');
        var active = rollouts.filter(function (r) { return inProgress(r, fleet); });
        var ro = card('Active rollouts', active.length ? active.map(function (r) {
          return el('div', { class: 'rollout', 'data-rollout': r.id }, [
            el('div', { class: 'rollout-head' }, [link('#/rollout/' + enc(r.id), r.model + '@' + r.version), badge(r.status, 'status-' + r.status), el('span', { class: 'muted small', text: targetsText(r.targets) })]),
            rolloutProgress(r, fleet),
          ]);
        }) : [el('p', { class: 'muted', text: 'No rollout is running.' })], 'card-rollouts');
        var items = [];
        ov.alarms.forEach(function (a) { items.push({ at: null, cls: 'bad', kind: 'drift alarm', text: a.model + '@' + a.version + ' feature ' + a.feature + ': PSI ' + fmtNum(a.psi) + ' > ' + fmtNum(a.critical) + ' (n = ' + a.n + ')', href: '#/model/' + enc(a.model) + '?v=' + enc(a.version) }); });
        ov.events.forEach(function (e) { items.push({ at: e.at, cls: BAD_EVENTS[e.type] ? 'bad' : 'ok', kind: e.type, text: e.deviceId + (e.model ? ' · ' + e.model + (e.version ? '@' + e.version : '') : '') + ': ' + e.message + (e.code ? ' [' + e.code + ']' : ''), href: '#/device/' + enc(e.deviceId) }); });
        ov.actions.forEach(function (a) { items.push({ at: a.at, cls: /rollback|abort|pause|fail/.test(a.action) ? 'warn' : 'ok', kind: a.action, text: (a.details && a.details.id ? a.details.id + ' ' : '') + 'by ' + a.actor, href: a.details && a.details.id ? '#/rollout/' + enc(a.details.id) : null }); });
        items.sort(function (a, b) { return (b.at ? Date.parse(b.at) : Infinity) - (a.at ? Date.parse(a.at) : Infinity); });
        var events = card('Recent events', [items.length ? el('ul', { class: 'events' }, items.slice(0, 25).map(function (it) {
          return el('li', { class: 'event ' + it.cls }, [badge(it.kind, it.cls), it.href ? link(it.href, it.text) : el('span', { text: it.text }), it.at ? el('span', { class: 'muted small', text: ' ' + when(it.at) }) : null]);
        })) : el('p', { class: 'muted', text: 'Nothing notable.' })], 'card-events');
        box.replaceChildren(devices, versions, ro, health, events);
      });
    },
  };
}

function pageDevices(main, args, params, alive) {
  var models = el('select', { name: 'model', 'aria-label': 'model' }, [el('option', { value: '', text: 'any model' })]);
  var field = function (name, label, extra) { return el('label', null, [label, el('input', Object.assign({ name: name, value: params.get(name) || '', 'aria-label': label }, extra || {}))]); };
  var select = function (name, label, options) {
    var s = el('select', { name: name, 'aria-label': label }, options.map(function (o) { return el('option', { value: o[0], text: o[1] }); }));
    s.value = params.get(name) || '';
    return el('label', null, [label, s]);
  };
  var form = el('form', { class: 'filters', onsubmit: function (ev) { ev.preventDefault(); offset = 0; apply(); } }, [
    field('q', 'id contains', { placeholder: 'e.g. line-3' }),
    field('tag', 'tag', { placeholder: 'key=value' }),
    el('label', null, ['model', models]),
    field('version', 'version', { placeholder: '1.2.0' }),
    select('state', 'state', [['', 'any state']].concat(STATES.map(function (s) { return [s, s]; }))),
    select('online', 'connection', [['', 'any'], ['true', 'online'], ['false', 'offline']]),
    el('button', { type: 'submit', text: 'Filter' }),
  ]);
  var silent = params.get('silentMinutes');
  var result = el('div', { class: 'device-results' });
  var offset = Number(params.get('offset') || 0) || 0;
  var limit = 50;
  var seq = 0;
  main.appendChild(card('Devices', [form, silent ? el('p', { class: 'warn', text: 'Showing devices offline and silent for more than ' + silent + ' min. ' }, [link('#/devices', 'Show all')]) : null, result], 'card-device-table'));
  api('GET', '/models').then(function (r) {
    (r.models || []).forEach(function (m) { models.appendChild(el('option', { value: m.name, text: m.name })); });
    models.value = params.get('model') || '';
  }, function () {});
  var debounce = null;
  form.addEventListener('input', function (ev) {
    if (ev.target.tagName === 'SELECT') return;
    clearTimeout(debounce); debounce = setTimeout(function () { offset = 0; apply(); }, 250);
  });
  form.addEventListener('change', function (ev) { if (ev.target.tagName === 'SELECT') { offset = 0; apply(); } });
  function query() {
    var q = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (String(v).trim()) q.set(k, String(v).trim()); });
    if (silent) q.set('silentMinutes', silent);
    return q;
  }
  function apply() {
    var q = query();
    if (offset) q.set('offset', String(offset));
    history.replaceState(null, '', '#/devices' + (q.toString() ? '?' + q.toString() : ''));
    return load();
  }
  function load() {
    var q = query();
    q.set('limit', String(limit)); q.set('offset', String(offset));
    var my = ++seq, t0 = performance.now(), qs = q.toString();
    return api('GET', '/devices?' + qs).then(function (r) {
      if (!alive() || my !== seq) return;
      var rows = r.devices.map(function (d) {
        var rep = d.reported && d.reported.models ? d.reported.models : {};
        var mods = Object.keys(rep).map(function (m) { var x = rep[m]; return el('span', { class: 'chip' }, [m + '@' + (x.active ? x.active.version : '–') + ' ', badge(x.state, 'state-' + x.state)]); });
        return el('tr', { 'data-device': d.id }, [
          el('td', null, [link('#/device/' + enc(d.id), d.id)]),
          el('td', null, [badge(d.status, d.status)]),
          el('td', null, Object.keys(d.tags).map(function (k) { return el('span', { class: 'chip', text: k + '=' + d.tags[k] }); })),
          el('td', null, mods.length ? mods : ['–']),
          el('td', null, [timeCell(d.lastSeen)]),
          el('td', { text: d.reported && d.reported.agentVersion || '–' }),
        ]);
      });
      var from = r.total ? offset + 1 : 0, to = Math.min(offset + limit, r.total);
      var tbl = table(['device', 'connection', 'tags', 'models', 'last seen', 'agent'], rows, 'devices');
      var inner = tbl.firstChild;
      inner.setAttribute('data-total', r.total); inner.setAttribute('data-query', qs);
      var pager = el('div', { class: 'pager' }, [
        el('button', { class: 'prev', text: '‹ Previous', disabled: offset === 0, onclick: function () { offset = Math.max(0, offset - limit); apply(); } }),
        el('span', { class: 'page-info', text: from + '–' + to + ' of ' + r.total.toLocaleString() + ' devices' }),
        el('button', { class: 'next', text: 'Next ›', disabled: to >= r.total, onclick: function () { offset += limit; apply(); } }),
      ]);
      result.replaceChildren(pager, tbl);
      inner.setAttribute('data-ms', (performance.now() - t0).toFixed(1));
    });
  }
  return { refresh: load, interval: 3000 };
}

function pageDevice(main, args, params, alive) {
  var id = args[0];
  var top = el('div', { class: 'grid' });
  var charts = el('div', { class: 'device-charts' });
  main.append(top, charts);
  var chartsAt = 0;
  return {
    refresh: function () {
      return api('GET', '/devices/' + enc(id)).then(function (r) {
        if (!alive()) return;
        var d = r.device, rep = d.reported || {};
        var models = rep.models || {};
        var info = card('Device ' + d.id, [el('dl', { class: 'facts' }, [
          el('dt', { text: 'connection' }), el('dd', null, [badge(d.status, d.status), ' since ', timeCell(d.statusAt)]),
          el('dt', { text: 'last seen' }), el('dd', null, [timeCell(d.lastSeen)]),
          el('dt', { text: 'tags' }), el('dd', null, Object.keys(d.tags).length ? Object.keys(d.tags).map(function (k) { return el('span', { class: 'chip', text: k + '=' + d.tags[k] }); }) : ['none']),
          el('dt', { text: 'registered' }), el('dd', null, [timeCell(d.createdAt)]),
          el('dt', { text: 'agent' }), el('dd', { text: rep.agentVersion ? rep.agentVersion + ' · ' + rep.runtime + ' · ' + rep.platform : 'no report yet' }),
          el('dt', { text: 'desired sequence' }), el('dd', { text: (d.desiredSequence === null ? '–' : d.desiredSequence) + ' (applied ' + (rep.desiredSequence === undefined ? '–' : rep.desiredSequence) + ')' }),
          el('dt', { text: 'reported' }), el('dd', null, [timeCell(d.reportedAt)]),
        ].concat(rep.resources ? [el('dt', { text: 'resources' }), el('dd', { text: [rep.resources.diskFreeBytes !== undefined ? fmtNum(rep.resources.diskFreeBytes / 1048576) + ' MiB disk free' : null, rep.resources.rssBytes !== undefined ? fmtNum(rep.resources.rssBytes / 1048576) + ' MiB RSS' : null, rep.resources.uptimeSeconds !== undefined ? fmtNum(rep.resources.uptimeSeconds / 3600) + ' h up' : null].filter(Boolean).join(' · ') || '–' })] : []))], 'card-device');
        var reported = card('Reported models', [table(['model', 'active', 'previous', 'shadow', 'pending', 'state', 'error'], Object.keys(models).map(function (m) {
          var x = models[m], v = function (i) { return i ? i.version + ' (r' + i.release + ')' : '–'; };
          return tr([link('#/model/' + enc(m) + (x.active ? '?v=' + enc(x.active.version) : ''), m), v(x.active), v(x.previous), v(x.shadow), v(x.pending) + (x.progress !== undefined && x.pending ? ' ' + pct(x.progress, 0) : ''), badge(x.state, 'state-' + x.state), x.error ? x.error.code + ': ' + x.error.message : '–']);
        }))], 'card-reported');
        var events = card('Recent events', [table(['time', 'event', 'model', 'message'], r.events.map(function (e) {
          return el('tr', { class: BAD_EVENTS[e.type] ? 'bad' : '' }, [el('td', null, [timeCell(e.at)]), el('td', null, [badge(e.type, BAD_EVENTS[e.type] ? 'bad' : 'ok')]), el('td', { text: e.model ? e.model + (e.version ? '@' + e.version : '') : '–' }), el('td', { text: e.message + (e.code ? ' [' + e.code + ']' : '') })]);
        }))], 'card-device-events');
        top.replaceChildren(info, reported, events);
        // charts are heavier: every 10 s
        if (Date.now() - chartsAt < 10000) return;
        chartsAt = Date.now();
        // the active version of every model, and a shadow beside it when there is one
        var targets = [];
        Object.keys(models).forEach(function (m) {
          if (models[m].active) targets.push({ model: m, version: models[m].active.version, role: 'active' });
          if (models[m].shadow) targets.push({ model: m, version: models[m].shadow.version, role: 'shadow' });
        });
        return Promise.all(targets.map(function (t) {
          return healthFor(t.model, t.version, '&device=' + enc(id) + '&role=' + t.role);
        })).then(function (hs) {
          if (!alive()) return;
          charts.replaceChildren.apply(charts, hs.map(function (h, i) {
            var t = targets[i];
            return card(t.model + '@' + t.version + (t.role === 'shadow' ? ' (shadow)' : '') + ' on this device', [rangePicker(function () { chartsAt = 0; }), healthBlock(h, null, { compact: true })], 'card-device-health');
          }));
        });
      });
    },
  };
}

function healthFor(model, version, extra) {
  var r = RANGES.filter(function (x) { return x[0] === S.range; })[0] || RANGES[0];
  var to = Date.now();
  return api('GET', '/health?model=' + enc(model) + '&version=' + enc(version) + '&from=' + (to - r[0]) + '&to=' + to + '&bucketMs=' + r[2] + (extra || ''));
}

function rangePicker(onchange) {
  var s = el('select', { class: 'range', 'aria-label': 'time range' }, RANGES.map(function (r) { return el('option', { value: r[0], text: r[1] }); }));
  s.value = String(S.range);
  s.addEventListener('change', function () { S.range = Number(s.value); onchange(); });
  return el('label', { class: 'range-picker' }, ['time range ', s]);
}

function pageModels(main, args, params, alive) {
  var box = el('div');
  main.appendChild(box);
  return {
    refresh: function () {
      return Promise.all([api('GET', '/models'), api('GET', '/fleet/status')]).then(function (res) {
        if (!alive()) return;
        var inUse = {};
        res[1].versions.forEach(function (v) { inUse[v.model] = (inUse[v.model] || 0) + v.devices; });
        box.replaceChildren(card('Models', [table(['model', 'versions', 'latest', 'pushed', 'devices running it'], res[0].models.map(function (m) {
          var last = m.versions[m.versions.length - 1];
          return tr([link('#/model/' + enc(m.name), m.name), m.versions.length, last ? last.version : '–', last ? timeCell(last.createdAt) : '–', inUse[m.name] || 0]);
        }))], 'card-models'));
      });
    },
    interval: 5000,
  };
}

function metricText(metrics) {
  var keys = Object.keys(metrics || {});
  if (!keys.length) return '–';
  return keys.map(function (k) { var v = metrics[k]; return k + ' ' + (/acc|rate|ratio/i.test(k) && v <= 1 ? pct(v, 1) : /ms/i.test(k) ? ms(v) : fmtNum(v)); }).join(' · ');
}

function pageModel(main, args, params, alive) {
  var name = args[0];
  var chosen = params.getAll('v');
  var head = el('div');
  var cols = el('div', { class: 'compare' });
  main.append(head, cols);
  var chartsAt = 0, chartKey = '';
  var self = {
    refresh: function () {
      return Promise.all([api('GET', '/models/' + enc(name)), api('GET', '/fleet/status')]).then(function (res) {
        if (!alive()) return;
        var versions = res[0].versions, fleet = res[1];
        var running = {};
        fleet.versions.forEach(function (v) { if (v.model === name) running[v.version] = v.devices; });
        if (!chosen.length) {
          var used = versions.filter(function (v) { return running[v.version]; }).map(function (v) { return v.version; });
          chosen = (used.length ? used : versions.map(function (v) { return v.version; })).slice(-2);
        }
        var rows = versions.slice().reverse().map(function (v) {
          var l = v.manifest.lineage || {};
          var box = el('input', { type: 'checkbox', 'aria-label': 'compare ' + v.version, checked: chosen.indexOf(v.version) >= 0, onchange: function () {
            chosen = box.checked ? chosen.concat([v.version]) : chosen.filter(function (x) { return x !== v.version; });
            history.replaceState(null, '', '#/model/' + enc(name) + '?' + chosen.map(function (x) { return 'v=' + enc(x); }).join('&'));
            chartsAt = 0; load();
          } });
          return el('tr', { 'data-version': v.version }, [el('td', null, [box]), el('td', { text: v.version }), el('td', { text: 'r' + v.release }), el('td', null, [timeCell(v.createdAt)]),
            el('td', { text: l.dataset ? l.dataset.id : '–' }), el('td', { text: l.run || '–' }), el('td', { text: l.commit ? String(l.commit).slice(0, 12) : '–', title: l.commit || '' }),
            el('td', { class: 'metrics', text: metricText(v.metrics) }), el('td', { text: String(running[v.version] || 0) }), el('td', { class: 'mono', text: v.sha256.slice(0, 12), title: v.sha256 })]);
        });
        head.replaceChildren(card(name + ': versions and lineage', [table(['compare', 'version', 'release', 'pushed', 'dataset', 'run', 'commit', 'validation', 'devices', 'sha256'], rows, 'lineage'), rangePicker(function () { chartsAt = 0; load(); })], 'card-lineage'));
        var key = chosen.join(',') + '|' + S.range;
        if (Date.now() - chartsAt < 10000 && key === chartKey) return;
        chartsAt = Date.now(); chartKey = key;
        var pick = versions.filter(function (v) { return chosen.indexOf(v.version) >= 0; });
        return Promise.all(pick.map(function (v) { return healthFor(name, v.version); })).then(function (hs) {
          if (!alive()) return;
          cols.replaceChildren.apply(cols, hs.map(function (h, i) {
            return el('section', { class: 'card version-col', 'data-version': h.version }, [el('h2', { text: name + '@' + h.version }), healthBlock(h, pick[i], {})]);
          }));
        });
      });
    },
    interval: 3000,
  };
  function load() { return self.refresh().catch(function () {}); }
  return self;
}

/** Every chart of one version's health report (design §6). */
function healthBlock(h, version, opts) {
  var t = h.totals, from = h.from, to = h.to, s = h.series;
  var pts = function (f) { return s.map(function (p) { return [p.t, f(p)]; }); };
  var summary = el('dl', { class: 'facts totals' }, [
    el('dt', { text: 'devices reporting' }), el('dd', { text: String(t.devices) }),
    el('dt', { text: 'inferences' }), el('dd', { text: fmtNum(t.inferences) }),
    el('dt', { text: 'error rate' }), el('dd', { text: pct(t.errorRate, 2) + ' (' + t.errors + ' errors)' }),
    el('dt', { text: 'latency p50 / p95 / p99' }), el('dd', { text: [t.latencyMs.p50, t.latencyMs.p95, t.latencyMs.p99].map(function (v) { return fmtNum(v); }).join(' / ') + ' ms' }),
  ]);
  var out = [summary];
  out.push(lineChart({ title: 'Latency', unit: 'latency (ms)', from: from, to: to, series: [
    { name: 'p50', cls: 's1', points: pts(function (p) { return p.p50; }) },
    { name: 'p95', cls: 's2', points: pts(function (p) { return p.p95; }) },
    { name: 'p99', cls: 's3', points: pts(function (p) { return p.p99; }) },
  ] }));
  out.push(lineChart({ title: 'Error rate', unit: 'error rate (%)', from: from, to: to, yMin: 0, series: [
    { name: 'errors / inferences', cls: 's4', points: pts(function (p) { return p.errorRate === null ? null : p.errorRate * 100; }) },
  ] }));
  // drift: PSI per feature over time against its sample-size-aware threshold
  var feats = h.drift.map(function (d) { return d.feature; });
  var crit = {};
  h.driftSeries.forEach(function (d) { if (d.critical !== null && (crit[d.t] === undefined || d.critical > crit[d.t])) crit[d.t] = d.critical; });
  out.push(lineChart({ title: 'Drift per feature over time', unit: 'PSI (unitless)', from: from, to: to, yMin: 0, empty: feats.length ? 'no feature data in this time range' : 'this version has no drift reference',
    series: feats.map(function (f, i) { return { name: f, cls: 's' + ((i % 6) + 1), points: h.driftSeries.filter(function (d) { return d.feature === f; }).map(function (d) { return [d.t, d.psi]; }) }; }),
    thresholdSeries: { name: 'drift threshold (PSI critical, 99.9 %)', points: Object.keys(crit).map(Number).sort(function (a, b) { return a - b; }).map(function (k) { return [k, crit[k]]; }) },
  }));
  out.push(barChart({ title: 'Drift per feature, whole range', unit: 'PSI (unitless)', xLabel: 'input feature', labels: feats,
    groups: [{ name: 'PSI', cls: 's2', values: h.drift.map(function (d) { return d.n > 0 ? d.psi : null; }), flag: h.drift.map(function (d) { return d.verdict === 'drift'; }) }],
    markers: { name: 'threshold (PSI critical)', values: h.drift.map(function (d) { return d.critical; }) }, empty: feats.length ? 'no feature data in this time range' : 'this version has no drift reference' }));
  if (h.drift.length) {
    out.push(table(['feature', 'PSI', 'threshold', 'JS', 'KS', 'n', 'verdict'], h.drift.map(function (d) {
      var v = d.verdict === 'drift' ? badge('drifted', 'verdict-drift bad') : d.verdict === 'no-drift' ? badge('stable', 'verdict-ok ok') : badge('too little data', 'verdict-none muted');
      return el('tr', { class: 'drift-row', 'data-feature': d.feature, 'data-verdict': d.verdict }, [el('td', { text: d.feature }), el('td', { text: fmtNum(d.psi) }), el('td', { text: fmtNum(d.critical) }), el('td', { text: fmtNum(d.js) }), el('td', { text: fmtNum(d.ks) }), el('td', { text: String(d.n) }), el('td', null, [v])]);
    }), 'drift'));
  }
  if (opts.compact) return el('div', { class: 'health chart-grid' }, out);
  var mix = h.predictionMix;
  out.push(barChart({ title: 'Prediction mix vs reference', unit: 'share of predictions (%)', xLabel: mix.kind === 'regressor' ? 'predicted value bin' : 'predicted class', labels: mix.labels,
    groups: [{ name: 'reference', cls: 's5', values: mix.reference ? mix.reference.map(function (x) { return x * 100; }) : null }, { name: 'observed (n = ' + mix.n + ')', cls: 's1', values: mix.observed ? mix.observed.map(function (x) { return x * 100; }) : null }],
    empty: mix.labels.length ? 'no predictions in this time range' : 'no output reference' }));
  var acc = h.accuracy;
  var valAcc = version && version.metrics && typeof version.metrics.accuracy === 'number' ? version.metrics.accuracy : null;
  out.push(lineChart({ title: 'Accuracy (labelled feedback)', unit: 'accuracy (%)', from: from, to: to, yMin: 0, yMax: 100,
    series: [{ name: 'accuracy', cls: 's1', points: pts(function (p) { return p.accuracy === null ? null : p.accuracy * 100; }) }, { name: 'label coverage', cls: 's5', points: pts(function (p) { return p.inferences > 0 ? Math.min(100, (p.labelled / p.inferences) * 100) : null; }) }],
    band: { name: '95 % interval (Wilson)', cls: 's1', points: s.map(function (p) { var w = wilsonInterval(p.correct, p.labelled); return [p.t, w ? w[0] * 100 : null, w ? w[1] * 100 : null]; }) },
    thresholds: valAcc !== null ? [{ name: 'validation accuracy', value: valAcc * 100 }] : [],
    note: acc.labelled ? 'Whole range: ' + pct(acc.p) + ' (95 % interval ' + pct(acc.low) + '–' + pct(acc.high) + '), ' + acc.labelled + ' labelled, coverage ' + pct(acc.coverage, 2) + '.' : 'No labelled feedback in this range.', empty: 'no labelled feedback in this time range' }));
  var sh = h.shadow;
  out.push(lineChart({ title: 'Shadow agreement', unit: 'agreement (%)', from: from, to: to, yMin: 0, yMax: 100,
    series: [{ name: 'agreed / compared', cls: 's3', points: pts(function (p) { return p.shadowCompared > 0 ? (p.shadowAgreed / p.shadowCompared) * 100 : null; }) }],
    note: sh ? 'Whole range: ' + pct(sh.rate) + ' of ' + sh.compared + ' compared predictions agree.' : 'No shadow comparisons for this version.', empty: 'no shadow comparisons in this time range' }));
  return el('div', { class: 'health' }, out);
}

function pageRollouts(main, args, params, alive) {
  var box = el('div');
  main.appendChild(box);
  return {
    refresh: function () {
      return api('GET', '/rollouts').then(function (r) {
        if (!alive()) return;
        var list = (r.rollouts || []).slice().reverse();
        box.replaceChildren(card('Rollouts', [table(['rollout', 'model version', 'role', 'status', 'targets', 'devices', 'created', 'updated'], list.map(function (x) {
          return el('tr', { 'data-rollout': x.id }, [el('td', null, [link('#/rollout/' + enc(x.id), x.id)]), el('td', null, [link('#/model/' + enc(x.model) + '?v=' + enc(x.version), x.model + '@' + x.version)]), el('td', { text: x.role }), el('td', null, [badge(x.status, 'status-' + x.status)]), el('td', { text: targetsText(x.targets) }), el('td', { text: String(x.devices) }), el('td', null, [timeCell(x.createdAt)]), el('td', null, [timeCell(x.updatedAt)])]);
        }), 'rollouts')], 'card-rollout-list'));
      });
    },
  };
}

function pageRollout(main, args, params, alive) {
  var id = args[0];
  var box = el('div', { class: 'grid' });
  var actions = el('div');
  main.append(actions, box);
  var lastStatus = null;
  var self = {
    refresh: function () {
      return Promise.all([api('GET', '/rollouts/' + enc(id)), api('GET', '/fleet/status')]).then(function (res) {
        if (!alive()) return;
        var r = res[0].rollout;
        var opts = r.options || {};
        var plan = opts.waves || (Array.isArray(r.waves) && r.waves.length ? r.waves.map(function (w) { return w.percent; }) : null);
        var info = card('Rollout ' + r.id, [el('dl', { class: 'facts' }, [
          el('dt', { text: 'model version' }), el('dd', null, [link('#/model/' + enc(r.model) + '?v=' + enc(r.version), r.model + '@' + r.version), ' as ' + r.role]),
          el('dt', { text: 'status' }), el('dd', null, [badge(r.status, 'status-' + r.status)]),
          el('dt', { text: 'targets' }), el('dd', { text: targetsText(r.targets) + ' (' + r.devices + ' devices now)' }),
          el('dt', { text: 'waves' }), el('dd', { text: plan ? plan.join(' → ') + ' %' : 'all at once' }),
        ].concat(plan || opts.soak !== undefined || opts.onFail ? [
          el('dt', { text: 'soak per wave' }), el('dd', { text: opts.soak !== undefined ? String(opts.soak) : 'default' }),
          el('dt', { text: 'on a failed gate' }), el('dd', { text: opts.onFail || 'pause' }),
        ] : []).concat([
          el('dt', { text: 'created' }), el('dd', null, [timeCell(r.createdAt)]),
          el('dt', { text: 'updated' }), el('dd', null, [timeCell(r.updatedAt)]),
        ]))], 'card-rollout');
        box.replaceChildren(info, card('Progress', [rolloutProgress(r, res[1])], 'card-progress'));
        // keep the buttons (and any confirmation in progress) unless the status changed
        if (lastStatus !== r.status) { lastStatus = r.status; actions.replaceChildren(rolloutActions(r, function () { self.refresh(); }) || el('span')); }
      });
    },
  };
  return self;
}

// ---- boot ----
document.addEventListener('DOMContentLoaded', function () {
  root = document.getElementById('app');
  window.addEventListener('hashchange', function () { if (S.token) route(); });
  if (!S.token) return renderSignIn();
  whoami().then(start, function (e) { if (e.status !== 401) { renderSignIn('Could not reach the hub: ' + e.message); } });
});
`;
