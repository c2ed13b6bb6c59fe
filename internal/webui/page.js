// The status refreshes every 2 s without reloading the page (the token
// field keeps what is typed). A form with data-post is an action: it is
// posted with fetch, its data-body as a JSON body and the admin token as
// the bearer token (a plain form cannot send it), after a confirm() when
// it has data-confirm; the answer's "result" is shown when it has one.
// ?confirm=... is the confirmation step of a page without JavaScript: an
// action ends it. A select with data-submit submits its form when changed.
(function () {
  async function refresh() {
    try {
      const r = await fetch(location.pathname + location.search, {cache: 'no-store'});
      const d = new DOMParser().parseFromString(await r.text(), 'text/html');
      const live = d.getElementById('live');
      if (!live) { return; }
      live.querySelector('#token-box').replaceWith(document.getElementById('token-box'));
      document.getElementById('live').replaceWith(live);
      document.title = d.title;
    } catch (e) { /* the next refresh tries again */ }
  }
  document.addEventListener('submit', async function (ev) {
    const f = ev.target;
    if (!f.dataset.post) { return; }
    ev.preventDefault();
    if (f.dataset.confirm && !confirm(f.dataset.confirm)) { return; }
    const out = document.getElementById('result');
    const h = {'Content-Type': 'application/json'};
    const t = document.getElementById('token');
    if (t && t.value) { h['Authorization'] = 'Bearer ' + t.value; }
    out.className = ''; out.textContent = (f.dataset.label || 'sending') + '…';
    try {
      const r = await fetch(f.dataset.post, {method: 'POST', headers: h, body: f.dataset.body || ''});
      let j = {};
      try { j = await r.json(); } catch (e) { j = {error: r.status + ' ' + r.statusText}; }
      out.className = r.ok ? 'ok' : 'err';
      out.textContent = r.ok ? (j.result || (f.dataset.label || 'done') + ': done') : 'refused: ' + (j.error || r.status);
    } catch (e) { out.className = 'err'; out.textContent = String(e); }
    if (/[?&]confirm=/.test(location.search)) { history.replaceState(null, '', location.pathname); }
    refresh();
  });
  document.addEventListener('change', function (ev) {
    if (ev.target.dataset && ev.target.dataset.submit !== undefined && ev.target.form) { ev.target.form.submit(); }
  });
  setInterval(refresh, 2000);
})();
