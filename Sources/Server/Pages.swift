// The pages of `cdam serve`: server-sent HTML with a little plain JavaScript over the JSON API; no build step and
// no remote assets (everything is in the binary).

enum Pages {
    static let style = """
    <style>
    body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
    nav a { margin-right: 1em; } h1 { font-size: 1.5em; } .muted { color: #666; font-size: 0.9em; }
    #concepts label { display: inline-block; margin: 0.2em 0.8em 0.2em 0; }
    .tiles { display: flex; flex-wrap: wrap; gap: 12px; } .tile { max-width: 520px; }
    .tile img { max-width: 100%; display: block; } .error { color: #a00; } .working { color: #a60; }
    table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #eee; }
    </style>
    """

    static let nav = #"<nav><a href="./">Explain</a><a href="concepts">Concepts</a></nav>"#

    /// Explain: upload a photo, tick concepts, see each concept's CDAM map on the photo.
    static let explain = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>cdam: explain</title>\(style)</head><body>
    \(nav)
    <h1>Where is the evidence?</h1>
    <p class="muted">Choose a photo and concepts: each map is drawn on the photo, warm patches are evidence for the concept,
    cool ones against it, uncoloured ones do not matter. Scores' percentiles are among the concept's background.</p>
    <form id="form">
      <p><input type="file" id="file" accept="image/*" required></p>
      <div id="concepts" class="muted">loading concepts…</div>
      <p><label><input type="checkbox" id="am"> also attention (AM)</label>
         <label><input type="checkbox" id="rollout"> rollout</label>
         <label><input type="checkbox" id="rp"> relevance propagation (RP)</label></p>
      <p><button type="submit">Explain</button> <span id="status"></span></p>
    </form>
    <div id="results" class="tiles"></div>
    <script>
    const params = new URLSearchParams(location.search), token = params.get('token');
    const api = (path) => path + (token ? (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : '');
    const status = document.getElementById('status');
    function show(message, kind) { status.textContent = message; status.className = kind || ''; }
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
      if (!file || chosen.length === 0) { show('choose a photo and at least one concept', 'error'); return; }
      const maps = ['cdam', ...['am', 'rollout', 'rp'].filter(m => document.getElementById(m).checked)];
      const query = chosen.map(c => 'concept=' + encodeURIComponent(c)).join('&') + '&maps=' + maps.join(',')
        + '&name=' + encodeURIComponent(file.name);
      show('working…', 'working');
      const results = document.getElementById('results');
      results.textContent = '';
      try {
        const response = await fetch(api('api/explain?' + query), { method: 'POST', body: file });
        const doc = await response.json();
        if (!response.ok) { show(doc.error || response.statusText, 'error'); return; }
        const shown = new Set();   // AM and rollout are the same picture for every concept: shown once
        for (const image of doc.results) {
          for (const target of image.targets) {
            for (const [map, url] of Object.entries(target.overlays || {})) {
              if (shown.has(url)) continue;
              shown.add(url);
              const tile = document.createElement('div'); tile.className = 'tile';
              const img = document.createElement('img'); img.src = url;
              img.alt = target.name + ' ' + map;
              const caption = document.createElement('div'); caption.className = 'muted';
              const pct = target.percentile == null ? '' : ', ' + target.percentile.toFixed(1) + ' %ile';
              caption.textContent = (map === 'am' || map === 'rollout') ? map.toUpperCase() + ': the same for every concept'
                : target.name + ' (' + target.kind + ') ' + map + ': score ' + target.score.toPrecision(4) + pct;
              tile.append(img, caption); results.append(tile);
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
        for (const text of [c.name, c.kind, String(c.examples), auc, c.verdict ? c.verdict.text : '']) {
          const td = document.createElement('td'); td.textContent = text; tr.append(td);
        }
        rows.append(tr);
      }
    }).catch(e => { document.getElementById('status').textContent = 'cannot list concepts: ' + e; });
    </script>
    </body></html>
    """
}
