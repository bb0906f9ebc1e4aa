// NPO Forge dashboard: plain browser JavaScript (no build step), uPlot for the curves. The API key lives in this
// tab's sessionStorage and goes out as a Bearer header on every call — including the live event stream, which is
// read with fetch (EventSource cannot send headers), so no key ever appears in a URL.
'use strict';
const KEY = 'npo-forge-api-key';
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
const METRICS = [
  ['loss', 'loss', '#dc2626'],
  ['implicit_acc', 'implicit accuracy', '#16a34a'],
  ['lr', 'learning rate', '#2563eb'],
  ['grad_norm', 'grad norm', '#9333ea'],
];
let view = null; // the page on screen: { stop() }

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const authHeader = () => ({ authorization: `Bearer ${sessionStorage.getItem(KEY)}` });

async function api(path, init = {}) {
  const headers = { ...authHeader(), ...(init.body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(path, { ...init, headers });
  const body = res.status === 204 ? null : await res.json();
  if (res.status === 401) {
    signOut(body?.error?.message ?? 'the API key was refused');
    throw new Error('unauthorized');
  }
  if (!res.ok) throw new Error(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body;
}

function show(section) {
  for (const id of ['signin', 'jobs', 'job']) $(id).hidden = id !== section;
  $('signout').hidden = section === 'signin';
}

function signOut(message = '') {
  sessionStorage.removeItem(KEY);
  view?.stop();
  view = null;
  $('signin-error').textContent = message;
  show('signin');
}

$('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('apikey').value.trim());
  $('apikey').value = '';
  try {
    await api('/v1/jobs?limit=1');
    $('signin-error').textContent = '';
    if (!location.hash.startsWith('#/jobs')) location.hash = '#/jobs';
    else route();
  } catch (err) {
    if (err.message !== 'unauthorized') $('signin-error').textContent = err.message;
  }
});
$('signout').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);

function route() {
  view?.stop();
  view = null;
  if (!sessionStorage.getItem(KEY)) return show('signin');
  const m = /^#\/jobs\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  view = m ? jobPage(m[1]) : jobsPage();
}

const bar = (percent) => el('span', { class: 'bar', title: `${percent}%` }, Object.assign(el('span'), { style: `width:${percent}%` }));
const fmt = (x, digits = 4) => (typeof x === 'number' && Number.isFinite(x) ? x.toPrecision(digits) : '–');

function jobsPage() {
  show('jobs');
  let stopped = false;
  (async () => {
    while (!stopped) {
      try {
        const { data } = await api('/v1/jobs?limit=100');
        $('jobs-body').replaceChildren(...data.map((j) => {
          const row = el('tr', { class: 'job-row', 'data-job': j.id, onclick: () => (location.hash = `#/jobs/${j.id}`) },
            el('td', {}, el('a', { href: `#/jobs/${j.id}` }, j.id)), el('td', {}, j.model), el('td', {}, j.method),
            el('td', { class: `status ${j.status}` }, j.status), el('td', {}, bar(j.progress.percent), ` ${j.progress.step}/${j.progress.total_steps}`),
            el('td', {}, fmt(j.metrics?.loss)), el('td', {}, j.created_at.replace('T', ' ').slice(0, 19)));
          return row;
        }));
      } catch (err) {
        if (err.message === 'unauthorized') return;
      }
      await sleep(3000);
    }
  })();
  return { stop: () => (stopped = true) };
}

// Axis numbers in 3 significant digits: uPlot's default rounds a 1e-4 learning rate to 0.
const tick = (_u, values) => values.map((v) => (v === 0 ? '0' : Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4 ? v.toExponential(1) : String(+v.toPrecision(3))));

/** A line chart over steps; series listed in `ownScale` get a right-hand axis of their own (e.g. B − A beside A and B). */
function makeChart(container, title, labels, colors, ownScale = []) {
  const series = [{ label: 'step' }, ...labels.map((label, i) => ({ label, stroke: colors[i], width: 1.5, ...(ownScale.includes(label) ? { scale: 'own' } : {}) }))];
  const axes = [{}, { values: tick, size: 60 }, ...(ownScale.length ? [{ scale: 'own', side: 1, values: tick, size: 60, grid: { show: false } }] : [])];
  const chart = new uPlot({ title, width: 470, height: 210, scales: { x: { time: false } }, series, axes, legend: { show: true } }, [[], ...labels.map(() => [])], container);
  return {
    set(data) {
      chart.setData(data);
      container.dataset.points = String(data[0].length);
    },
  };
}

/** Reads the job's text/event-stream with fetch (so the Authorization header goes along); reconnects with Last-Event-ID. */
async function streamEvents(jobId, signal, onEvent) {
  let last = '';
  while (!signal.aborted) {
    let terminal = false;
    try {
      const res = await fetch(`/v1/jobs/${jobId}/events`, { headers: { ...authHeader(), accept: 'text/event-stream', ...(last ? { 'last-event-id': last } : {}) }, signal });
      if (!res.ok) return;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (!data) continue;
          const ev = JSON.parse(data);
          last = ev.id;
          if (ev.type === 'state' && TERMINAL.includes(ev.data.status)) terminal = true;
          onEvent(ev);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    if (terminal) return;
    await sleep(1000);
  }
}

function jobPage(jobId) {
  show('job');
  const abort = new AbortController();
  const points = new Map();
  const charts = Object.fromEntries(METRICS.map(([key, title, color]) => {
    const box = $(`chart-${key}`);
    box.replaceChildren();
    return [key, makeChart(box, title, [title], [color])];
  }));
  const rewardBox = $('chart-reward');
  rewardBox.replaceChildren();
  rewardBox.hidden = true;
  const rewardChart = makeChart(rewardBox, 'validation reward: A, B (left), B − A (right)', ['A plain CFG', 'B adapted', 'B − A'], ['#6b7280', '#ea580c', '#0d9488'], ['B − A']);
  $('events').replaceChildren();
  $('checkpoints').replaceChildren();
  $('samples').replaceChildren();
  $('dataset-report').textContent = '';
  $('sample-status').textContent = '';
  let job = null;
  let pending = 0;

  const redraw = () => {
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = 0;
      const steps = [...points.keys()].sort((a, b) => a - b);
      for (const [key] of METRICS) charts[key].set([steps, steps.map((s) => points.get(s)[key])]);
    });
  };
  const summary = () => {
    if (!job) return;
    $('job-title').textContent = `${job.id} · ${job.method.toUpperCase()} on ${job.model}`;
    $('job-summary').replaceChildren(el('span', { class: `status ${job.status}`, id: 'job-status' }, job.status), ' ', bar(job.progress.percent),
      ` step ${job.progress.step}/${job.progress.total_steps}`, job.progress.eta_seconds ? ` · ETA ${Math.round(job.progress.eta_seconds)} s` : '',
      job.error ? ` · ${job.error.code}: ${job.error.message}` : '', usage(job.usage));
  };
  // device time and cost so far (the worker writes them per phase; refreshed with the job on every state change)
  const usage = (u) => {
    if (!u || !u.device_seconds.total) return '';
    const phases = Object.entries(u.device_seconds).filter(([k, v]) => k !== 'total' && v).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
    const cost = u.cost.map((c) => ` · ${c.amount.toFixed(4)} ${c.currency}`).join('');
    return el('span', { id: 'job-usage', title: `${phases}; peak memory ${u.peak_rss_mb} MiB` }, ` · ${u.device_seconds.total.toFixed(1)} device-s${cost}`);
  };
  const figure = (set, caption) => el('figure', { 'data-sample': set.id, 'data-kind': set.kind },
    set.grid_url ? el('img', { src: set.grid_url, alt: `${set.kind} grid` }) : el('em', {}, set.status),
    el('figcaption', {}, caption));
  const rewardText = (r) => (r ? ` · reward A ${fmt(r.base)} B ${fmt(r.adapted)} B−A ${r.difference >= 0 ? '+' : ''}${fmt(r.difference, 3)}` : '');

  const refreshOutputs = async () => {
    const [cps, sets, metrics] = await Promise.all([api(`/v1/jobs/${jobId}/checkpoints`), api(`/v1/jobs/${jobId}/samples`), api(`/v1/jobs/${jobId}/metrics`)]);
    const byId = new Map(sets.data.map((s) => [s.id, s]));
    $('checkpoints').replaceChildren(...cps.data.map((c) => {
      const v = c.validation_sample && byId.get(c.validation_sample);
      const caption = `step ${c.step}${c.final ? ' (final)' : ''}${v ? rewardText(v.rewards) : ''}`;
      return v ? figure(v, caption) : el('figure', { 'data-step': c.step }, el('figcaption', {}, `${caption} · adapter ${c.files[0] ?? ''}`));
    }));
    $('samples').replaceChildren(...sets.data.filter((s) => s.kind !== 'validation').reverse().map((s) =>
      figure(s, `${s.kind} ${s.id.slice(-6)} · ${s.status}${s.adapters.length ? ` · ${s.adapters.map((a) => `${a.role} @${a.checkpoint}`).join(', ')}` : ''}`)));
    if (metrics.validation.length) {
      rewardBox.hidden = false;
      const v = metrics.validation;
      rewardChart.set([v.map((p) => p.step), v.map((p) => p.reward_base), v.map((p) => p.reward_adapted), v.map((p) => p.reward_difference)]);
    }
    for (const p of metrics.data) points.set(p.step, p);
    redraw();
  };
  let refreshing = null;
  const refreshSoon = () => (refreshing ??= sleep(300).then(refreshOutputs).catch(() => {}).finally(() => (refreshing = null)));

  const logEvent = (ev) => {
    const list = $('events');
    list.prepend(el('li', {}, `${ev.created_at.slice(11, 19)} ${ev.type} ${JSON.stringify(ev.data)}`));
    while (list.childElementCount > 200) list.lastElementChild.remove();
  };
  const onEvent = (ev) => {
    logEvent(ev);
    if (ev.type === 'step') {
      points.set(ev.data.step, ev.data);
      redraw();
      if (job) {
        job.progress.step = ev.data.step;
        job.progress.percent = Math.round((10000 * ev.data.step) / job.progress.total_steps) / 100;
        summary();
      }
    } else if (ev.type === 'state') {
      if (job) job.status = ev.data.status;
      summary();
      refreshSoon();
      api(`/v1/jobs/${jobId}`).then((j) => { job = j; summary(); }).catch(() => {});
    } else if (['checkpoint', 'validation', 'sample', 'sample_failed', 'validation_failed'].includes(ev.type)) refreshSoon();
  };

  (async () => {
    try {
      job = await api(`/v1/jobs/${jobId}`);
      summary();
      await refreshOutputs();
      api(`/v1/datasets/${job.dataset}`).then((d) => ($('dataset-report').textContent = JSON.stringify({ status: d.status, report: d.report }, null, 2))).catch((e) => ($('dataset-report').textContent = e.message));
      await streamEvents(jobId, abort.signal, onEvent);
    } catch (err) {
      if (err.message !== 'unauthorized') $('job-summary').textContent = err.message;
    }
  })();

  const onSample = async (e) => {
    e.preventDefault();
    const body = {
      prompts: $('sample-prompts').value.split('\n').map((s) => s.trim()).filter(Boolean),
      seeds: $('sample-seeds').value.split(',').map((s) => Number(s.trim())),
      guidance: $('sample-guidance').value.split(',').map((s) => Number(s.trim())),
      steps: Number($('sample-steps').value),
    };
    try {
      $('sample-status').textContent = 'queued…';
      let set = await api(`/v1/jobs/${jobId}/samples`, { method: 'POST', body: JSON.stringify(body) });
      refreshSoon();
      while (!TERMINAL.includes(set.status) && !abort.signal.aborted) {
        await sleep(1000);
        set = await api(`/v1/samples/${set.id}`);
        $('sample-status').textContent = set.status;
      }
      $('sample-status').textContent = set.error ? `${set.status}: ${set.error.message}` : set.status;
      refreshSoon();
    } catch (err) {
      $('sample-status').textContent = err.message;
    }
  };
  $('sample-form').addEventListener('submit', onSample);
  return {
    stop: () => {
      abort.abort();
      $('sample-form').removeEventListener('submit', onSample);
    },
  };
}

route();
