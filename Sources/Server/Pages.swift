// The pages of `cdam serve`: server-sent HTML with a little plain JavaScript over the JSON API; no build step and
// no remote assets (everything is in the binary).

enum Pages {
    static let style = """
    <style>
    body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
    nav a { margin-right: 1em; } h1 { font-size: 1.5em; } .muted { color: #666; font-size: 0.9em; }
    #concepts label { display: inline-block; margin: 0.2em 0.8em 0.2em 0; }
    .tiles { display: flex; flex-wrap: wrap; gap: 12px; } .tile { max-width: 520px; }
    .tile img { max-width: 100%; display: block; }
    .frame { position: relative; } .frame canvas { position: absolute; inset: 0; width: 100%; height: 100%;
      image-rendering: pixelated; cursor: crosshair; } .error { color: #a00; } .working { color: #a60; }
    .grid { display: flex; flex-wrap: wrap; gap: 8px; } .cell { width: 150px; font-size: 0.8em; }
    .cell img { width: 150px; height: 120px; object-fit: cover; display: block; }
    .hit { width: 260px; } .hit img { width: 260px; display: block; }
    table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #eee; }
    </style>
    """

    static let nav = #"<nav><a href="./">Explain</a><a href="concepts">Concepts</a><a href="search">Search</a><a href="define">Define</a></nav>"#

    /// The token (when the server needs one) carried over to API calls, and small helpers every page uses.
    static let common = """
    const token = new URLSearchParams(location.search).get('token');
    const api = (path) => path + (token ? (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : '');
    const el = (tag, props, ...children) => { const e = document.createElement(tag); Object.assign(e, props || {}); e.append(...children); return e; };
    async function getJSON(path, options) {
      const response = await fetch(api(path), options);
      const doc = await response.json();
      if (!response.ok) throw new Error(doc.error || response.statusText);
      return doc;
    }
    """

    /// Explain: upload a photo, tick concepts, see each concept's CDAM map on the photo.
    static let explain = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdam: explain</title>\(style)</head><body>
    \(nav)
    <h1>Where is the evidence?</h1>
    <p class="muted">Choose a photo and concepts: each map is drawn on the photo, warm patches are evidence for the concept,
    cool ones against it, uncoloured ones do not matter; hover a patch to read its value. Scores' percentiles are among
    the concept's background.</p>
    <form id="form">
      <p><input type="file" id="file" accept="image/*" required> <span id="storedNote" class="muted"></span></p>
      <div id="concepts" class="muted">loading concepts…</div>
      <p><label><input type="checkbox" id="am"> also attention (AM)</label>
         <label><input type="checkbox" id="rollout"> rollout</label>
         <label><input type="checkbox" id="rp"> relevance propagation (RP)</label></p>
      <p><button type="submit">Explain</button> <span id="status"></span>
         <label class="muted">opacity <input type="range" id="opacity" min="0" max="1" step="0.05" value="0.8"></label></p>
    </form>
    <div id="results" class="tiles"></div>
    <script>
    const params = new URLSearchParams(location.search), token = params.get('token');
    const api = (path) => path + (token ? (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : '');
    const status = document.getElementById('status');
    function show(message, kind) { status.textContent = message; status.className = kind || ''; }
    // The photo with a map drawn over it in the browser: one cell per patch, warm for evidence, cool against,
    // alpha growing with the square root of |value| (as the labelled pictures); hover a patch to read its value.
    function heatTile(photo, values, gh, gw, picture, title) {
      const tile = document.createElement('div'); tile.className = 'tile';
      const frame = document.createElement('div'); frame.className = 'frame';
      const img = document.createElement('img'); img.src = photo; img.alt = title;
      const canvas = document.createElement('canvas'); canvas.width = gw; canvas.height = gh;
      canvas.style.opacity = document.getElementById('opacity').value;
      const ctx = canvas.getContext('2d'), cells = ctx.createImageData(gw, gh);
      const scale = Math.max(...values.map(Math.abs)) || 1;
      values.forEach((v, i) => {
        const t = Math.abs(v) / scale, warm = v > 0;
        cells.data.set(warm ? [255, Math.round(90 + 130 * t), 0] : [0, Math.round(120 + 100 * t), 255], 4 * i);
        cells.data[4 * i + 3] = Math.round(255 * Math.sqrt(t));
      });
      ctx.putImageData(cells, 0, 0);
      const caption = document.createElement('div'); caption.className = 'muted'; caption.textContent = title;
      const readout = document.createElement('div'); readout.className = 'muted readout';
      readout.textContent = 'hover a patch to read its value (largest |value| ' + scale.toPrecision(3) + ')';
      canvas.addEventListener('mousemove', (event) => {
        const box = canvas.getBoundingClientRect();
        const col = Math.min(gw - 1, Math.floor((event.clientX - box.left) / box.width * gw));
        const row = Math.min(gh - 1, Math.floor((event.clientY - box.top) / box.height * gh));
        readout.textContent = 'patch row ' + (row + 1) + ', column ' + (col + 1) + ': ' + values[row * gw + col].toPrecision(3);
      });
      frame.append(img, canvas);
      tile.append(frame, caption, readout);
      if (picture) {
        const details = document.createElement('details'), summary = document.createElement('summary');
        summary.textContent = 'labelled picture (as `cdam query --out` writes it)';
        const labelled = document.createElement('img'); labelled.src = picture; labelled.alt = title + ' (labelled)';
        details.append(summary, labelled); tile.append(details);
      }
      return tile;
    }
    const stored = new URLSearchParams(location.search).get('image');
    if (stored) {
      document.getElementById('file').required = false;
      document.getElementById('storedNote').textContent = 'or leave the file empty to explain the stored image ';
      document.getElementById('storedNote').append(Object.assign(document.createElement('img'),
        { src: api('api/images/' + stored), alt: 'stored image', style: 'height: 48px; vertical-align: middle' }));
    }
    document.getElementById('opacity').addEventListener('input', (event) => {
      for (const canvas of document.querySelectorAll('#results canvas')) canvas.style.opacity = event.target.value;
    });
    fetch(api('api/concepts')).then(r => r.json()).then(list => {
      const box = document.getElementById('concepts');
      if (!Array.isArray(list) || list.length === 0) { box.textContent = 'No concepts yet: define one with `cdam concept define`.'; return; }
      box.textContent = '';
      for (const c of list) {
        const label = document.createElement('label');
        const input = document.createElement('input');
        input.type = 'checkbox'; input.value = c.name; input.name = 'concept';
        label.append(input, ' ' + c.name + ' (' + c.kind + ')');
        box.append(label);
      }
    }).catch(e => show('cannot list concepts: ' + e, 'error'));
    document.getElementById('form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const file = document.getElementById('file').files[0];
      const chosen = [...document.querySelectorAll('input[name=concept]:checked')].map(i => i.value);
      if ((!file && !stored) || chosen.length === 0) { show('choose a photo and at least one concept', 'error'); return; }
      const maps = ['cdam', ...['am', 'rollout', 'rp'].filter(m => document.getElementById(m).checked)];
      const query = chosen.map(c => 'concept=' + encodeURIComponent(c)).join('&') + '&maps=' + maps.join(',')
        + (file ? '&name=' + encodeURIComponent(file.name) : '');
      show('working…', 'working');
      const results = document.getElementById('results');
      results.textContent = '';
      try {
        // An uploaded photo, or (?image=SHA256, from Search or a concept's page) a stored one.
        const response = file ? await fetch(api('api/explain?' + query), { method: 'POST', body: file })
                              : await fetch(api('api/images/' + stored + '/explain?' + query));
        const doc = await response.json();
        if (!response.ok) { show(doc.error || response.statusText, 'error'); return; }
        const photo = file ? URL.createObjectURL(file) : api('api/images/' + stored);
        const shown = new Set();   // AM and rollout are the same for every concept: shown once
        for (const image of doc.results) {
          const [gh, gw] = image.grid;
          for (const target of image.targets) {
            for (const [map, values] of Object.entries(target.maps || {})) {
              const shared = map === 'am' || map === 'rollout';
              if (shared && shown.has(map)) continue;
              shown.add(map);
              results.append(heatTile(photo, values, gh, gw, (target.overlays || {})[map],
                shared ? map.toUpperCase() + ': the same for every concept'
                       : target.name + ' (' + target.kind + ') ' + map + ': score ' + target.score.toPrecision(4)
                         + (target.percentile == null ? '' : ', ' + target.percentile.toFixed(1) + ' %ile')));
            }
          }
          for (const w of image.warnings || []) { const p = document.createElement('p'); p.className = 'muted'; p.textContent = w; results.append(p); }
        }
        show('done', '');
      } catch (e) { show('failed: ' + e, 'error'); }
    });
    </script>
    </body></html>
    """

    /// Concepts: every stored concept with its verdict and figures.
    static let concepts = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdam: concepts</title>\(style)</head><body>
    \(nav)
    <h1>Concepts</h1>
    <table><thead><tr><th>name</th><th>kind</th><th>examples</th><th>AUC</th><th>verdict</th></tr></thead><tbody id="rows"></tbody></table>
    <p id="status" class="muted"></p>
    <script>
    const token = new URLSearchParams(location.search).get('token');
    fetch('api/concepts' + (token ? '?token=' + encodeURIComponent(token) : '')).then(r => r.json()).then(list => {
      const rows = document.getElementById('rows');
      if (!Array.isArray(list) || list.length === 0) { document.getElementById('status').textContent = 'No concepts yet.'; return; }
      for (const c of list) {
        const tr = document.createElement('tr');
        const auc = c.quality && c.quality.auc != null ? c.quality.auc.toFixed(3) : '';
        const link = document.createElement('a');
        link.href = 'concept?name=' + encodeURIComponent(c.name) + (token ? '&token=' + encodeURIComponent(token) : '');
        link.textContent = c.name;
        const first = document.createElement('td'); first.append(link); tr.append(first);
        for (const text of [c.kind, String(c.examples), auc, c.verdict ? c.verdict.text : '']) {
          const td = document.createElement('td'); td.textContent = text; tr.append(td);
        }
        rows.append(tr);
      }
    }).catch(e => { document.getElementById('status').textContent = 'cannot list concepts: ' + e; });
    </script>
    </body></html>
    """

    /// Search: a concept's best matches among the stored images, ten at a time, each with its map on request.
    static let search = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdam: search</title>\(style)</head><body>
    \(nav)
    <h1>Which stored photos match a concept?</h1>
    <p class="muted">Ranked by the concept's score over every stored embedding (one matrix product, no model run);
    the concept's own examples are left out. "map" explains one hit.</p>
    <p><select id="concept"></select> <input id="collection" placeholder="collection (all)"> <button id="go">Search</button>
       <span id="status"></span></p>
    <div id="hits" class="grid"></div>
    <p><button id="more" hidden>Ten more</button></p>
    <script>
    \(common)
    let shown = 0;
    const status = document.getElementById('status');
    getJSON('api/concepts').then(list => {
      for (const c of list) document.getElementById('concept').append(el('option', { value: c.name, textContent: c.name + ' (' + c.kind + ')' }));
    }).catch(e => { status.textContent = e.message; status.className = 'error'; });
    async function page() {
      const concept = document.getElementById('concept').value, collection = document.getElementById('collection').value;
      status.textContent = 'working…'; status.className = 'working';
      try {
        const doc = await getJSON('api/search?concept=' + encodeURIComponent(concept) + '&top=' + (shown + 10)
          + (collection ? '&collection=' + encodeURIComponent(collection) : ''));
        const hits = document.getElementById('hits');
        for (const hit of doc.results.slice(shown)) {
          const img = el('img', { src: api('api/images/' + hit.sha256), alt: hit.image, loading: 'lazy' });
          const button = el('button', { textContent: 'map' });
          button.onclick = async () => {
            button.disabled = true; button.textContent = 'working…';
            try {
              const explained = await getJSON('api/images/' + hit.sha256 + '/explain?concept=' + encodeURIComponent(concept));
              const url = explained.results[0].targets[0].overlays.cdam;
              if (url) img.src = url;
              button.textContent = 'map shown';
            } catch (e) { button.textContent = e.message; }
          };
          const pct = hit.percentile == null ? '' : ' · ' + hit.percentile.toFixed(1) + ' %ile';
          hits.append(el('div', { className: 'hit' }, img,
            el('div', { className: 'muted', textContent: '#' + hit.rank + ' score ' + hit.score.toPrecision(4) + pct }),
            el('div', { className: 'muted', textContent: hit.image.split('/').pop() }), button, ' ',
            el('a', { href: './?image=' + hit.sha256 + (token ? '&token=' + encodeURIComponent(token) : ''), textContent: 'explain with other concepts' })));
        }
        shown = doc.results.length;
        document.getElementById('more').hidden = doc.results.length < shown || doc.results.length % 10 !== 0;
        status.textContent = shown + ' shown'; status.className = '';
      } catch (e) { status.textContent = e.message; status.className = 'error'; }
    }
    document.getElementById('go').onclick = () => { shown = 0; document.getElementById('hits').textContent = ''; page(); };
    document.getElementById('more').onclick = page;
    </script>
    </body></html>
    """

    /// Define: tick stored images of a collection as examples (and negatives), see the figures, save.
    static let define = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdam: define</title>\(style)</head><body>
    \(nav)
    <h1>Define a concept from stored photos</h1>
    <p class="muted">Pick a collection, tick examples of the concept (E) and, for the discriminative kinds, images that
    are not it (N). "Measure" computes the figures and the verdict without storing anything; "Save" stores the concept.</p>
    <p><select id="collection"></select> <button id="load">Show images</button></p>
    <p><input id="name" placeholder="concept name"> <select id="kind">
       <option>centred</option><option>probe</option><option>whitened</option><option>contrast</option><option>mean</option><option>cosine</option>
       </select> <label><input type="checkbox" id="asBackground" checked> the collection's other images are the background</label></p>
    <p><button id="measure">Measure</button> <button id="save">Save</button> <span id="status"></span></p>
    <div id="figures"></div>
    <div id="images" class="grid"></div>
    <script>
    \(common)
    const status = document.getElementById('status');
    const say = (text, kind) => { status.textContent = text; status.className = kind || ''; };
    Promise.all([getJSON('api/collections'), getJSON('api/settings')]).then(([list, settings]) => {
      if (list.length === 0) say('No collections yet: index a folder with `cdam index DIR --collection NAME`.', 'error');
      for (const c of list) document.getElementById('collection').append(el('option', { value: c.name, textContent: c.name + ' (' + c.imageCount + ')',
                                                                                         selected: c.name === settings.collection }));
    }).catch(e => say(e.message, 'error'));
    document.getElementById('load').onclick = async () => {
      const name = document.getElementById('collection').value;
      try {
        const doc = await getJSON('api/collections/' + encodeURIComponent(name) + '?limit=500');
        const grid = document.getElementById('images'); grid.textContent = '';
        for (const image of doc.images) {
          const e = el('input', { type: 'checkbox', className: 'example', value: image.sha256 });
          const n = el('input', { type: 'checkbox', className: 'negative', value: image.sha256 });
          grid.append(el('div', { className: 'cell' }, el('img', { src: api('api/images/' + image.sha256), alt: image.path, loading: 'lazy' }),
            el('label', {}, e, 'E '), el('label', {}, n, 'N '), image.path.split('/').pop()));
        }
        say(doc.images.length + ' images');
      } catch (e) { say(e.message, 'error'); }
    };
    async function submit(save) {
      const ticked = (cls) => [...document.querySelectorAll('input.' + cls + ':checked')].map(i => i.value);
      const body = { name: document.getElementById('name').value || 'untitled', kind: document.getElementById('kind').value,
                     examples: ticked('example'), negatives: ticked('negative'), save, replace: save };
      if (document.getElementById('asBackground').checked) body.background = document.getElementById('collection').value;
      if (body.examples.length === 0) { say('tick at least one example (E)', 'error'); return; }
      say('working…', 'working');
      try {
        const s = await getJSON('api/concepts', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        const q = s.quality || {};
        const figures = document.getElementById('figures'); figures.textContent = '';
        figures.append(el('p', {}, el('b', { textContent: 'Verdict: ' }), (s.verdict ? s.verdict.text : 'not judged')),
          el('p', { className: 'muted', textContent: s.examples + ' examples, background ' + s.background + ' (' + s.backgroundImages + ' images)'
            + (q.auc != null ? ', leave-one-out AUC ' + q.auc.toFixed(3) : '')
            + (q.pValue != null ? ', p = ' + q.pValue.toPrecision(3) + ' (' + q.randomConcepts + ' random concepts)' : '') }));
        say(save ? 'saved as ' + s.name : 'measured (not stored)');
      } catch (e) { say(e.message, 'error'); }
    }
    document.getElementById('measure').onclick = () => submit(false);
    document.getElementById('save').onclick = () => submit(true);
    </script>
    </body></html>
    """

    /// A concept: its verdict and figures, its examples, and its best matches with maps (examples marked).
    static let concept = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdam: concept</title>\(style)</head><body>
    \(nav)
    <h1 id="title">Concept</h1>
    <p id="about" class="muted"></p>
    <p id="verdict"></p>
    <table id="figures"></table>
    <h2>Examples</h2>
    <div id="examples" class="grid"></div>
    <h2>Best matches</h2>
    <p class="muted">Every stored image ranked by the concept's score, its own examples included and marked; "map" explains one.</p>
    <div id="hits" class="grid"></div>
    <p id="status"></p>
    <script>
    \(common)
    const name = new URLSearchParams(location.search).get('name') || '';
    const say = (text, kind) => { const s = document.getElementById('status'); s.textContent = text; s.className = kind || ''; };
    (async () => {
      try {
        const d = await getJSON('api/concepts/' + encodeURIComponent(name));
        const s = d.summary, q = s.quality || {};
        document.getElementById('title').textContent = s.name + ' (' + s.kind + ')';
        document.getElementById('about').textContent = (s.description ? s.description + ' · ' : '') + s.examples + ' examples, background '
          + s.background + ' (' + s.backgroundImages + ' images), model ' + s.model + (s.block ? ', block ' + s.block : '');
        document.getElementById('verdict').append(el('b', { textContent: 'Verdict: ' }), s.verdict ? s.verdict.text : 'not judged');
        const significance = q.pValue == null ? null : 'p = ' + q.pValue.toPrecision(3) + ' (' + q.randomConcepts + ' random concepts)';
        const rows = [['coherence', q.coherence], ['leave-one-out AUC', q.auc], ['significance', significance],
                      ["random concepts' AUC", q.randomAUCMean == null ? null : q.randomAUCMean.toFixed(3) + ' ± ' + (q.randomAUCStd || 0).toFixed(3)]];
        for (const [label, value] of rows) {
          if (value == null) continue;
          document.getElementById('figures').append(el('tr', {}, el('td', { textContent: label }),
            el('td', { textContent: typeof value === 'number' ? value.toFixed(3) : value })));
        }
        for (const e of d.examples) {
          document.getElementById('examples').append(el('div', { className: 'cell' },
            el('img', { src: api('api/images/' + e.sha256), alt: e.path || e.sha256, loading: 'lazy' }),
            e.role + ': ' + (e.path || '').split('/').pop()));
        }
        const found = await getJSON('api/search?top=12&examples=true&concept=' + encodeURIComponent(name));
        for (const hit of found.results) {
          const img = el('img', { src: api('api/images/' + hit.sha256), alt: hit.image, loading: 'lazy' });
          const button = el('button', { textContent: 'map' });
          button.onclick = async () => {
            button.disabled = true; button.textContent = 'working…';
            try {
              const explained = await getJSON('api/images/' + hit.sha256 + '/explain?concept=' + encodeURIComponent(name));
              img.src = explained.results[0].targets[0].overlays.cdam; button.textContent = 'map shown';
            } catch (e) { button.textContent = e.message; }
          };
          document.getElementById('hits').append(el('div', { className: 'hit' }, img,
            el('div', { className: 'muted', textContent: '#' + hit.rank + ' score ' + hit.score.toPrecision(4) + (hit.example ? ' · example' : '') }),
            el('div', { className: 'muted', textContent: hit.image.split('/').pop() }), button));
        }
        say('');
      } catch (e) { say(e.message, 'error'); }
    })();
    </script>
    </body></html>
    """
}
