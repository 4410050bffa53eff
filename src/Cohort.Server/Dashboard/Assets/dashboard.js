// Cohort dashboard: tabs, toggleable curves and live refresh over server-sent events. No libraries.
(function () {
  'use strict';
  document.documentElement.classList.add('js');
  var main = document.getElementById('main');
  var hidden = {};      // series names the user switched off, kept across refreshes
  var updates = 0;

  function activateTab(name) {
    var tabs = main.querySelectorAll('.tabs a[data-tab]');
    if (!tabs.length) return;
    if (!name || !main.querySelector('#tab-' + name)) name = tabs[0].getAttribute('data-tab');
    tabs.forEach(function (a) { a.classList.toggle('active', a.getAttribute('data-tab') === name); });
    main.querySelectorAll('section.tab').forEach(function (s) { s.classList.toggle('active', s.id === 'tab-' + name); });
  }

  function applyToggles() {
    main.querySelectorAll('input[data-toggle]').forEach(function (box) {
      var name = box.getAttribute('data-toggle');
      box.checked = !hidden[name];
      var figure = box.closest('figure');
      figure.querySelectorAll('g.series').forEach(function (g) {
        if (g.getAttribute('data-series') === name) g.classList.toggle('hidden', !!hidden[name]);
      });
    });
  }

  function wire() {
    activateTab(location.hash.slice(1));
    applyToggles();
  }

  main.addEventListener('click', function (e) {
    var a = e.target.closest('.tabs a[data-tab]');
    if (!a) return;
    e.preventDefault();
    history.replaceState(null, '', '#' + a.getAttribute('data-tab'));
    activateTab(a.getAttribute('data-tab'));
  });
  main.addEventListener('change', function (e) {
    var box = e.target.closest('input[data-toggle]');
    if (!box) return;
    hidden[box.getAttribute('data-toggle')] = !box.checked;
    applyToggles();
  });

  // What the user ticked or chose (runs to compare, filters) survives a live refresh.
  function keepInputs() {
    var kept = { boxes: {}, fields: {} };
    main.querySelectorAll('input[type=checkbox][name]').forEach(function (b) { kept.boxes[b.name + '=' + b.value] = b.checked; });
    main.querySelectorAll('select[name], input[type=text][name], input:not([type])[name]').forEach(function (f) { kept.fields[f.name] = f.value; });
    return kept;
  }
  function restoreInputs(kept) {
    main.querySelectorAll('input[type=checkbox][name]').forEach(function (b) {
      var key = b.name + '=' + b.value;
      if (key in kept.boxes) b.checked = kept.boxes[key];
    });
    main.querySelectorAll('select[name], input[type=text][name], input:not([type])[name]').forEach(function (f) {
      if (f.name in kept.fields) f.value = kept.fields[f.name];
    });
  }

  // A refresh waits at least twice as long as the last one took (at most 10 s): a page of a long run,
  // heavy to fetch and draw, is redrawn less often instead of keeping the browser busy.
  var refreshing = false, again = false, gap = 0, lastEnd = 0, timer = null;
  function refresh() {
    if (refreshing) { again = true; return; }
    var wait = lastEnd + gap - Date.now();
    if (wait > 0) {
      if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, wait);
      return;
    }
    refreshing = true;
    var started = Date.now();
    var url = location.pathname + location.search + (location.search ? '&' : '?') + 'fragment=1';
    fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          var kept = keepInputs();
          main.innerHTML = html;
          restoreInputs(kept);
          wire();
          updates++;
          main.setAttribute('data-updates', String(updates));
        }
      })
      .catch(function () { })
      .then(function () {
        lastEnd = Date.now();
        gap = Math.min(10000, 2 * (lastEnd - started));
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  wire();
  if (main.getAttribute('data-live') === 'on' && window.EventSource) {
    var dot = document.getElementById('live-dot');
    var first = true;
    var source = new EventSource('/events');
    source.addEventListener('open', function () { if (dot) dot.classList.add('on'); });
    source.addEventListener('error', function () { if (dot) dot.classList.remove('on'); });
    var lastKey = null;
    source.addEventListener('state', function (e) {
      // A run page follows its own run only; other pages follow every change.
      var watched = main.querySelector('[data-watch-run]');
      var key = e.data;
      if (watched) {
        var id = watched.getAttribute('data-watch-run');
        var runs = JSON.parse(e.data).runs || [];
        key = JSON.stringify(runs.filter(function (r) { return r.id === id; }));
      }
      // The first snapshot describes what the page was rendered from.
      if (first) { first = false; lastKey = key; return; }
      if (key === lastKey) return;
      lastKey = key;
      refresh();
    });
  }
})();
