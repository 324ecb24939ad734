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
  // the others at 10 px, in a large one at 4.5 px: vis draws no label under 5 px, so theirs appear
  // as one zooms in (9 px at twice the zoom).
  var sized = false;
  var sizeLabels = function () {
    if (sized) { return; }
    sized = true;
    var scale = network.getScale() || 1;
    var other = nodes.length <= 40 ? 10 : 4.5;
    nodes.update(nodes.get().map(function (n) {
      var top = n.font && n.font.size > 14;
      return { id: n.id, font: { size: (top ? 15 : other) / scale, strokeWidth: top ? 3 / scale : 0 } };
    }));
  };
  var engine = network.physics || {};
  var settled = (engine.options && engine.options.enabled === false) || engine.stabilized;
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
    more.nodes.forEach(function (n) { if (!nodes.get(n.id)) { nodes.add(n); } });
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
