// Behaviour of the knowledge-graph page (smolrag_lab/lab/graph_view.py inlines it after pyvis's
// drawGraph): a status line with the drawn counts, node search, and on click the node's description
// and source excerpts plus its strongest neighbours that are not drawn yet.
(function waitForNetwork() {
  if (typeof network === "undefined" || !network.body) { return setTimeout(waitForNetwork, 50); }
  var status = document.getElementById("smolrag-graph-status");
  var mark = function () {
    var drawn = network.body.nodeIndices.length;
    status.setAttribute("data-drawn-nodes", String(drawn));
    status.textContent = drawn + " nodes, " + network.body.edgeIndices.length + " edges drawn";
  };
  network.on("afterDrawing", mark);
  network.on("stabilized", mark);

  // Labels a constant size on screen at the zoom that fits the graph, whatever its size: the best
  // connected nodes (given a font over 14 by graph_view.py) at 15 px with a halo; in a small graph
  // the others at 10 px, in a large one at 3.5 px: vis skips a label under 4 px (its draw
  // threshold less one), so theirs appear as one zooms in (7 px at twice the zoom). Neighbours a
  // click adds later are sized with the same scale.
  var scale = null;
  var small = true;
  var labelFont = function (n) {
    var top = n.font && n.font.size > 14;
    return { size: (top ? 15 : (small ? 10 : 3.5)) / scale, strokeWidth: top ? 3 / scale : 0 };
  };
  var sizeLabels = function () {
    if (scale !== null) { return; }
    scale = network.getScale() || 1;
    small = nodes.length <= 40;
    nodes.update(nodes.get().map(function (n) { return { id: n.id, font: labelFont(n) }; }));
    status.setAttribute("data-labels-sized", "1");  // the drawing is final (tests wait for it)
  };
  var engine = network.physics || {};
  var settled = (engine.options && engine.options.enabled === false) || engine.stabilized;
  if (!nodes.length) { status.setAttribute("data-labels-sized", "1"); }  // nothing to fit
  network.once(settled ? "afterDrawing" : "stabilized", sizeLabels);  // after the fit

  var search = document.getElementById("smolrag-node-search");
  var found = document.getElementById("smolrag-search-status");
  search.addEventListener("input", function () {
    var needle = search.value.trim().toLowerCase();
    if (!needle) { network.unselectAll(); found.textContent = ""; return; }
    var ids = nodes.getIds({ filter: function (n) {
      return String(n.label).toLowerCase().indexOf(needle) >= 0;
    } });
    network.selectNodes(ids);
    found.setAttribute("data-matches", String(ids.length));
    found.textContent = ids.length + (ids.length === 1 ? " match" : " matches");
    if (ids.length) { network.focus(ids[0], { scale: 1.0, animation: false }); }
  });

  var info = document.getElementById("smolrag-node-info");
  network.on("click", function (event) {
    if (!event.nodes.length) { return; }
    var id = event.nodes[0];
    info.textContent = nodes.get(id).title || "";
    var more = smolragExpansions[id];
    if (!more) { return; }
    more.nodes.forEach(function (n) {
      if (nodes.get(n.id)) { return; }
      if (scale !== null) { n.font = labelFont(n); }
      nodes.add(n);
    });
    more.edges.forEach(function (e) {
      var exists = edges.get({ filter: function (x) {
        return (x.from === e.from && x.to === e.to) || (x.from === e.to && x.to === e.from);
      } }).length;
      if (!exists) { edges.add(e); }
    });
    delete smolragExpansions[id];
    info.setAttribute("data-expanded", id);
  });
  network.redraw();
})();
