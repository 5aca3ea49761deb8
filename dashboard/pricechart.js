/* The colorway's price chart, drawn from the data dashboard/charts.py writes (chart_data): the bold
   lowest line over thin shop lines, grey where nothing was in stock, labelled rules for the list price
   and the target, markers for the lowest and highest, a crosshair tooltip naming every shown shop,
   a legend that brings a shop forward. The wheel scrolls the page: shift + wheel zooms, shift + drag
   pans, a double click resets. Times are minutes after the range's start on the collector's wall
   clock; texts arrive formatted. Defined once per page; draw() is called by each chart's own script. */
(function () {
  if (window.__priceChart) return;
  var NS = 'http://www.w3.org/2000/svg';
  var MIN = 60000, HOUR = 60, DAY = 1440; // the chart counts in minutes
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  var FONT = 'font-family="sans-serif"';
  var SNAP_PX = 10; // the crosshair stops at a change this close to the pointer
  var MIN_SPAN = 60; // zooming stops at an hour in view
  var drawn = 0; // charts drawn in this page: each clip path needs its own id

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  function r1(v) { return Math.round(v * 10) / 10; }

  // The tick plan for a span in view: ticks one interval apart, in a format that names each interval
  // once, so no two ticks read the same ("Nov 24" twice, or "Nov" without a year).
  function plan(span) {
    var hours = span / HOUR, days = Math.floor(span / DAY);
    if (span <= 3 * HOUR) {
      var minutes = [5, 10, 15, 30, 60].find(function (m) { return span / m <= 8; }) || 60;
      return { f: 'hm', unit: 'minute', step: minutes };
    }
    if (span <= 20 * HOUR) return { f: 'hm', unit: 'hour', step: Math.max(1, Math.round(hours / 8)) };
    if (span <= 4 * DAY) return { f: 'dhm', unit: 'hour', step: 6 * Math.max(1, Math.round(hours / 48)) };
    if (span <= 21 * DAY) return { f: 'md', unit: 'day', step: Math.max(1, Math.round(days / 8)) };
    if (span <= 120 * DAY) return { f: 'md', unit: 'week', step: Math.max(1, Math.round(days / 56)) };
    if (span <= 800 * DAY) return { f: 'my', unit: 'month', step: Math.max(1, Math.round(days / 240)) };
    return { f: 'my', unit: 'month', step: 3 * Math.max(1, Math.round(days / 720)) };
  }

  function format(abs, f) { // abs: minutes since 1970 on the wall clock
    var d = new Date(abs * MIN);
    var hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    if (f === 'hm') return hm;
    if (f === 'dhm') return WEEKDAYS[d.getUTCDay()] + ' ' + hm;
    if (f === 'md') return MONTHS[d.getUTCMonth()] + ' ' + d.getUTCDate();
    if (f === 'my') return MONTHS[d.getUTCMonth()] + ' ' + d.getUTCFullYear();
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + hm;
  }

  // Ticks between two wall-clock moments (minutes since 1970): [[moment, label], ...].
  function ticks(a, b) {
    var p = plan(b - a), out = [], t, d;
    if (p.unit === 'minute') {
      for (t = Math.ceil(a / p.step) * p.step; t <= b; t += p.step) out.push(t);
    } else if (p.unit === 'hour') {
      for (t = Math.ceil(a / HOUR) * HOUR; t <= b; t += HOUR) {
        if ((t / HOUR) % 24 % p.step === 0) out.push(t);
      }
    } else if (p.unit === 'day' || p.unit === 'week') {
      for (t = Math.ceil(a / DAY) * DAY; t <= b; t += DAY) {
        d = new Date(t * MIN);
        if (p.unit === 'day' ? (d.getUTCDate() - 1) % p.step === 0
            : d.getUTCDay() === 0 && Math.floor(t / (7 * DAY)) % p.step === 0) out.push(t);
      }
    } else {
      d = new Date(a * MIN);
      var y = d.getUTCFullYear(), m = d.getUTCMonth();
      for (;;) {
        t = Date.UTC(y, m, 1) / MIN;
        if (t > b) break;
        if (t >= a && m % p.step === 0) out.push(t);
        m += 1;
        if (m === 12) { m = 0; y += 1; }
      }
    }
    return out.map(function (t) { return [t, format(t, p.f)]; });
  }

  // The page's own colours (Streamlit follows the system's light or dark theme): text, the paper
  // under the chart (label halos, the tooltip) and, on a dark page, a light bold line.
  function rgb(colour) { return (String(colour).match(/[\d.]+/g) || []).map(Number); }
  function ink(box, lowest) {
    var paper = null;
    for (var el = box; el && el.nodeType === 1; el = el.parentElement) {
      var c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { paper = c; break; }
    }
    paper = paper || [255, 255, 255];
    var dark = (0.299 * paper[0] + 0.587 * paper[1] + 0.114 * paper[2]) / 255 < 0.5;
    var text = getComputedStyle(box).color || (dark ? '#FAFAFA' : '#31333F');
    return {
      text: text, paper: 'rgb(' + paper.slice(0, 3).join(',') + ')', dark: dark,
      grid: dark ? 'rgba(250,250,250,0.13)' : '#E8E8EC', axis: dark ? 'rgba(250,250,250,0.45)' : '#888',
      muted: dark ? 'rgba(250,250,250,0.65)' : '#666', cross: dark ? '#DDD' : '#444',
      border: dark ? 'rgba(250,250,250,0.25)' : '#CCC', lowest: dark ? text : lowest
    };
  }

  function niceStep(range, count) {
    var raw = range / Math.max(1, count), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
  }
  function number(v) { return v.toLocaleString('en-US', { maximumFractionDigits: 2 }); }

  // The step of a line at moment t (binary search over starts), or null where the line has none.
  function stepAt(steps, t) {
    var lo = 0, hi = steps.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (steps[mid][0] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 && t < steps[found][1] ? steps[found] : null;
  }

  // Step-after path of a line within [a, b]: flat from each change to the next, broken where no price.
  function linePath(steps, a, b, x, y) {
    var out = [], lastEnd = null;
    for (var i = 0; i < steps.length; i++) {
      var s = steps[i];
      if (s[1] <= a) continue;
      if (s[0] >= b) break;
      if (s[2] === null) { lastEnd = null; continue; }
      var x0 = r1(x(Math.max(s[0], a))), x1 = r1(x(Math.min(s[1], b))), yy = r1(y(s[2]));
      out.push(lastEnd === s[0] ? 'V' + yy + 'H' + x1 : 'M' + x0 + ',' + yy + 'H' + x1);
      lastEnd = s[1];
    }
    return out.join('');
  }

  function spans(list, a, b, x, top, h, colour, opacity, cls) {
    var out = '';
    list.forEach(function (s) {
      if (s[1] <= a || s[0] >= b) return;
      var x0 = x(Math.max(s[0], a)), x1 = x(Math.min(s[1], b));
      out += '<rect class="' + cls + '" x="' + r1(x0) + '" y="' + top + '" width="' + r1(Math.max(0.5, x1 - x0)) +
        '" height="' + h + '" fill="' + colour + '" opacity="' + opacity + '"/>';
    });
    return out;
  }

  function draw(box, data) {
    var state = { a: 0, b: data.span, picked: {}, hover: null, pan: null };
    var clip = 'pc-clip-' + (drawn += 1);
    var moments = (function () { // every change of every line: where the crosshair stops
      var seen = {};
      [data.lowest].concat(data.shops).forEach(function (l) { l.steps.forEach(function (s) { seen[s[0]] = 1; }); });
      return Object.keys(seen).map(Number).sort(function (p, q) { return p - q; });
    })();
    if (!document.getElementById('pc-style')) { // legend entries show the keyboard's focus
      var style = document.createElement('style');
      style.id = 'pc-style';
      style.textContent = '.pc-key:focus-visible{outline:2px solid currentColor;outline-offset:1px}';
      document.head.appendChild(style);
    }
    box.innerHTML = '';
    box.style.position = 'relative';
    var c = ink(box, data.lowest.color);
    var TEXT = c.text, GRID = c.grid;
    var holder = document.createElement('div');
    holder.className = 'pc-plot';
    var tip = document.createElement('div');
    tip.className = 'pc-tip';
    tip.setAttribute('role', 'tooltip');
    tip.style.cssText = 'position:absolute;display:none;pointer-events:none;z-index:5;background:' + c.paper + ';' +
      'border:1px solid ' + c.border + ';border-radius:4px;padding:6px 8px;font:12px sans-serif;color:' + TEXT +
      ';box-shadow:0 2px 6px rgba(0,0,0,.15);max-width:360px;white-space:nowrap';
    var legend = document.createElement('div');
    legend.className = 'pc-legend';
    legend.style.cssText = 'font:12px sans-serif;color:' + TEXT + ';margin:2px 0 0 0';
    box.appendChild(holder);
    box.appendChild(tip);
    box.appendChild(legend);

    var yLo = data.y[0], yHi = data.y[1], h = data.height, top = 24, bottom = 24, right = 10;
    var yTicks = [], ys = niceStep(yHi - yLo, Math.max(3, Math.floor(h / 45)));
    for (var v = Math.ceil(yLo / ys) * ys; v <= yHi; v += ys) yTicks.push(v);
    var left = 12 + 7 * Math.max(data.currency.length, Math.max.apply(null, yTicks.map(function (t) {
      return number(t).length;
    }).concat([1])));
    var geo = {};

    function render() {
      var width = Math.max(240, box.clientWidth || 600), w = width - left - right;
      var a = state.a, b = state.b, kx = w / (b - a), ky = h / (yHi - yLo);
      var x = function (t) { return left + (t - a) * kx; };
      var y = function (p) { return top + (yHi - p) * ky; };
      geo = { width: width, w: w, x: x, kx: kx, a: a, b: b };
      var svg = [];
      svg.push('<svg xmlns="' + NS + '" width="' + width + '" height="' + (top + h + bottom) + '" role="img" ' +
        'aria-label="' + esc(data.label) + '" style="display:block;touch-action:pan-y;user-select:none">');
      svg.push('<defs><clipPath id="' + clip + '"><rect x="' + left + '" y="' + top + '" width="' + w +
        '" height="' + h + '"/></clipPath></defs>');
      // Grid and axes.
      var yAxis = '<g class="pc-y">', xAxis = '<g class="pc-x">', lastRight = -1e9;
      yTicks.forEach(function (t) {
        var yy = r1(y(t));
        svg.push('<line x1="' + left + '" x2="' + (left + w) + '" y1="' + yy + '" y2="' + yy + '" stroke="' + GRID + '"/>');
        yAxis += '<text x="' + (left - 6) + '" y="' + (yy + 4) + '" text-anchor="end" font-size="11" ' + FONT +
          ' fill="' + TEXT + '">' + number(t) + '</text>';
      });
      ticks(data.origin + a, data.origin + b).forEach(function (tk) {
        var xx = r1(x(tk[0] - data.origin)), half = tk[1].length * 3.3;
        svg.push('<line x1="' + xx + '" x2="' + xx + '" y1="' + top + '" y2="' + (top + h) + '" stroke="' + GRID + '"/>');
        if (xx - half < lastRight + 8 || xx + half > width) return; // labels that would overlap are left out
        lastRight = xx + half;
        xAxis += '<text x="' + xx + '" y="' + (top + h + 16) + '" text-anchor="middle" font-size="11" ' + FONT +
          ' fill="' + TEXT + '">' + esc(tk[1]) + '</text>';
      });
      svg.push(yAxis + '<text x="' + (left - 4) + '" y="' + (top - 9) + '" text-anchor="end" font-size="11" ' +
        'font-weight="bold" ' + FONT + ' fill="' + TEXT + '">' + esc(data.currency) + '</text></g>');
      svg.push(xAxis + '</g>');
      svg.push('<line x1="' + left + '" x2="' + (left + w) + '" y1="' + (top + h) + '" y2="' + (top + h) +
        '" stroke="' + c.axis + '"/>');
      svg.push('<g clip-path="url(#' + clip + ')">');
      svg.push(spans(data.nowhere, a, b, x, top, h, data.sold_out_color, 0.22, 'pc-nowhere'));
      var order = data.shops.filter(function (s) { return !state.picked[s.name]; })
        .concat(data.shops.filter(function (s) { return state.picked[s.name]; }));
      order.forEach(function (s) {
        if (!state.picked[s.name]) return;
        svg.push(spans(s.steps.filter(function (st) { return st[4]; }), a, b, x, top, h, s.color, 0.16, 'pc-sold-out'));
      });
      order.forEach(function (s) {
        var picked = !!state.picked[s.name];
        svg.push('<path class="pc-shop" data-shop="' + esc(s.name) + '" d="' + linePath(s.steps, a, b, x, y) +
          '" fill="none" stroke="' + s.color + '" stroke-width="' + (picked ? data.shop.picked : data.shop.width) +
          '" stroke-opacity="' + (picked ? 1 : data.shop.opacity) + '" stroke-linecap="round"/>');
      });
      svg.push('<path class="pc-lowest" d="' + linePath(data.lowest.steps, a, b, x, y) + '" fill="none" stroke="' +
        c.lowest + '" stroke-width="' + data.lowest.width + '" stroke-linejoin="round"/>');
      svg.push('</g>');
      data.markers.forEach(function (m) {
        if (m.at < a || m.at > b) return; // out of view when zoomed
        var mx = r1(x(m.at)), my = r1(y(m.price)), s = 7;
        var pts = m.shape === 'up' ? [mx, my - s, mx - s, my + s * 0.8, mx + s, my + s * 0.8]
          : [mx, my + s, mx - s, my - s * 0.8, mx + s, my - s * 0.8];
        svg.push('<polygon class="pc-marker" points="' + pts.join(',') + '" fill="' + c.lowest +
          '" stroke="' + c.paper + '" stroke-width="1.5"/>');
        var right = m.align === 'right';
        svg.push('<text class="pc-label" x="' + (mx + (right ? -9 : 9)) + '" y="' + (my + m.dy + 4) + '" text-anchor="' +
          (right ? 'end' : 'start') + '" font-size="11" font-weight="bold" ' + FONT + ' fill="' + c.lowest +
          '" stroke="' + c.paper + '" stroke-width="4" stroke-linejoin="round" paint-order="stroke">' + esc(m.label) + '</text>');
      });
      data.rules.forEach(function (r) {
        var ry = r1(y(r.price));
        svg.push('<line class="pc-rule" x1="' + left + '" x2="' + (left + w) + '" y1="' + ry + '" y2="' + ry +
          '" stroke="' + r.color + '" stroke-width="2" stroke-dasharray="' + r.dash.join(' ') + '"/>');
        svg.push('<text class="pc-label" x="' + (left + w - 6) + '" y="' + (ry + r.dy + 4) + '" text-anchor="end" ' +
          'font-size="12" font-weight="bold" ' + FONT + ' fill="' + r.color + '" stroke="' + c.paper + '" stroke-width="5" ' +
          'stroke-linejoin="round" paint-order="stroke">' + esc(r.label) + '</text>');
      });
      svg.push('<line class="pc-crosshair" y1="' + top + '" y2="' + (top + h) + '" stroke="' + c.cross + '" stroke-opacity="0.55" ' +
        'visibility="hidden"/>');
      svg.push('<rect class="pc-hit" x="' + left + '" y="' + top + '" width="' + w + '" height="' + h +
        '" fill="transparent" style="cursor:crosshair"/></svg>');
      holder.innerHTML = svg.join('');
      bind(holder.querySelector('.pc-hit'));
      if (state.hover !== null) show(state.hover.t, state.hover.px, state.hover.py);
    }

    function row(table, colour, title, text) {
      var tr = document.createElement('tr');
      var th = document.createElement('td'), td = document.createElement('td');
      th.style.cssText = 'padding:1px 10px 1px 0;color:' + c.muted;
      if (colour) {
        var sw = document.createElement('span');
        sw.style.cssText = 'display:inline-block;width:9px;height:3px;margin:0 5px 3px 0;background:' + colour;
        th.appendChild(sw);
      }
      th.appendChild(document.createTextNode(title));
      td.textContent = text;
      td.style.fontWeight = 'bold';
      tr.appendChild(th);
      tr.appendChild(td);
      table.appendChild(tr);
    }

    function zone(t) {
      var name = data.zones.length ? data.zones[0][1] : '';
      data.zones.forEach(function (z) { if (z[0] <= t) name = z[1]; });
      return name;
    }

    function show(t, px, py) {
      var line = holder.querySelector('.pc-crosshair');
      var cx = r1(geo.x(t));
      line.setAttribute('x1', cx);
      line.setAttribute('x2', cx);
      line.setAttribute('visibility', 'visible');
      var table = document.createElement('table');
      table.style.borderCollapse = 'collapse';
      row(table, null, 'When', format(data.origin + Math.round(t), 'full') + ' ' + zone(t));
      [data.lowest].concat(data.shops).forEach(function (l) {
        var s = stepAt(l.steps, t);
        row(table, l === data.lowest ? c.lowest : l.color, l.name, s ? data.texts[s[3]] : 'not listed');
      });
      tip.innerHTML = '';
      tip.appendChild(table);
      tip.style.display = 'block';
      var tw = tip.offsetWidth, tx = px + 14;
      if (tx + tw > geo.width) tx = Math.max(0, px - 14 - tw);
      tip.style.left = tx + 'px';
      // Beside the pointer, as high as it must be to end within the chart (25 shops make it tall).
      tip.style.top = Math.max(0, Math.min(py - 10, box.clientHeight - tip.offsetHeight)) + 'px';
    }

    function hide() {
      state.hover = null;
      tip.style.display = 'none';
      var line = holder.querySelector('.pc-crosshair');
      if (line) line.setAttribute('visibility', 'hidden');
    }

    function nearest(t) { // the change closest to t, when it is within SNAP_PX of the pointer
      var lo = 0, hi = moments.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (moments[mid] < t) lo = mid + 1; else hi = mid; }
      var best = t, gap = SNAP_PX / geo.kx;
      [lo - 1, lo].forEach(function (i) {
        if (i >= 0 && i < moments.length && Math.abs(moments[i] - t) <= gap) { gap = Math.abs(moments[i] - t); best = moments[i]; }
      });
      return best;
    }

    function point(e) { // the crosshair and tooltip at the pointer
      var r = holder.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
      var t = nearest(geo.a + (px - left) / geo.kx);
      state.hover = { t: t, px: px, py: py };
      show(t, px, py);
    }

    function end() {
      state.pan = null;
      var hit = holder.querySelector('.pc-hit');
      if (hit) hit.style.cursor = 'crosshair';
    }

    function bind(hit) {
      hit.addEventListener('pointermove', function (e) {
        // Drawing again replaces this element (and its pointer capture): a button let go elsewhere
        // ends the pan on the next move over the chart.
        if (state.pan && e.buttons === 0) end();
        if (state.pan) {
          var shift = (state.pan.x - e.clientX) / geo.kx, span = state.pan.b - state.pan.a;
          var a = Math.min(Math.max(0, state.pan.a + shift), data.span - span);
          state.a = a;
          state.b = a + span;
          render();
          return;
        }
        point(e);
      });
      // A finger lifted leaves the chart: its tooltip stays until a tap elsewhere.
      hit.addEventListener('pointerleave', function (e) { if (!state.pan && e.pointerType === 'mouse') hide(); });
      hit.addEventListener('pointerdown', function (e) {
        if (!e.shiftKey) { if (e.pointerType !== 'mouse') point(e); return; }
        e.preventDefault();
        hide();
        state.pan = { x: e.clientX, a: state.a, b: state.b };
        hit.setPointerCapture(e.pointerId);
        hit.style.cursor = 'grabbing';
      });
      hit.addEventListener('pointerup', end);
      hit.addEventListener('pointercancel', end);
      hit.addEventListener('wheel', function (e) {
        if (!e.shiftKey) return; // the wheel alone scrolls the page
        e.preventDefault();
        var delta = e.deltaY || e.deltaX; // a shifted wheel scrolls sideways in some browsers
        var r = holder.getBoundingClientRect(), at = geo.a + (e.clientX - r.left - left) / geo.kx;
        var span = Math.min(data.span, Math.max(MIN_SPAN, (state.b - state.a) * Math.exp(delta * 0.002)));
        var frac = (at - state.a) / (state.b - state.a);
        var a = Math.min(Math.max(0, at - frac * span), data.span - span);
        state.a = a;
        state.b = a + span;
        hide();
        render();
      }, { passive: false });
      hit.addEventListener('dblclick', function () { state.a = 0; state.b = data.span; hide(); render(); });
    }

    // The legend: a click brings a shop forward with its sold-out spans, a second click puts it back.
    var title = document.createElement('div');
    title.textContent = data.legend;
    title.style.cssText = 'font-weight:bold;margin:0 0 4px ' + left + 'px';
    var keys = document.createElement('div');
    keys.style.cssText = 'display:grid;grid-template-columns:repeat(auto-fill,minmax(105px,1fr));gap:2px 8px;' +
      'margin-left:' + left + 'px';
    data.shops.forEach(function (s) {
      var key = document.createElement('button');
      key.type = 'button';
      key.className = 'pc-key';
      key.title = s.name;
      key.setAttribute('aria-pressed', 'false');
      key.style.cssText = 'all:unset;cursor:pointer;display:flex;align-items:center;gap:5px;overflow:hidden;' +
        'white-space:nowrap;text-overflow:ellipsis;padding:1px 0';
      var sw = document.createElement('span');
      sw.style.cssText = 'flex:none;width:14px;height:3px;border-radius:2px;background:' + s.color;
      var name = document.createElement('span');
      name.className = 'pc-key-name';
      name.style.cssText = 'overflow:hidden;text-overflow:ellipsis';
      name.textContent = s.name;
      key.appendChild(sw);
      key.appendChild(name);
      key.addEventListener('click', function () {
        if (state.picked[s.name]) delete state.picked[s.name]; else state.picked[s.name] = true;
        key.setAttribute('aria-pressed', state.picked[s.name] ? 'true' : 'false');
        name.style.fontWeight = state.picked[s.name] ? 'bold' : '';
        render();
      });
      keys.appendChild(key);
    });
    if (data.shops.length) { legend.appendChild(title); legend.appendChild(keys); }

    render();
    box.style.minHeight = '';
    var away = function (e) {
      if (!box.isConnected) document.removeEventListener('pointerdown', away);
      else if (!holder.contains(e.target)) hide();
    };
    document.addEventListener('pointerdown', away);
    if (window.ResizeObserver) {
      var lastWidth = box.clientWidth;
      new ResizeObserver(function () {
        if (box.clientWidth !== lastWidth) { lastWidth = box.clientWidth; render(); }
      }).observe(box);
    }
  }

  window.__priceChart = { draw: draw, ticks: ticks };
  // Charts that asked to be drawn while this file was on its way.
  (window.__priceChartQueue || []).splice(0).forEach(function (q) { if (q[0].isConnected) draw(q[0], q[1]); });
})();
