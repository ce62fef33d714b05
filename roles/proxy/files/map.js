// The map page. /map/#<layer>: the layer's vector tiles drawn in VECTOR_COLOUR over the
// raster tiles MapProxy cached of it, zoomed to the bounds in the layer's TileJSON.
// /map/#<layer>/<west>,<south>,<east>,<north> (a raster: no vector tiles): the raster
// tiles MapProxy cached of it, zoomed to those bounds (longitudes and latitudes).
// body[data-state] says where it is: loading, ready (the map drew every tile) or error.
(function () {
  'use strict';
  var VECTOR_COLOUR = '#ff00ff';
  var hash = decodeURIComponent(location.hash.slice(1)).split('/');
  var layer = hash[0] || 'countries';
  var bounds = hash.length > 1 ? hash[1].split(',').map(Number) : null;
  var status = document.getElementById('status');
  var origin = location.origin;
  document.body.setAttribute('data-state', 'loading');

  function failed(message) {
    status.textContent = layer + ': ' + message;
    document.body.setAttribute('data-state', 'error');
  }

  function geometry(kind) {
    return ['==', ['geometry-type'], kind];
  }

  var cached = {type: 'raster', tileSize: 256, maxzoom: 19,
                tiles: [origin + '/mapproxy/wmts/' + layer + '/webmercator/{z}/{x}/{y}.png']};

  function rasterStyle() {
    return {version: 8, sources: {cached: cached}, layers: [{id: 'cached', type: 'raster', source: 'cached'}]};
  }

  function style() {
    return {
      version: 8,
      sources: {
        cached: cached,
        vector: {type: 'vector', url: origin + '/tiles/data/' + layer + '.json'}
      },
      layers: [
        {id: 'cached', type: 'raster', source: 'cached'},
        {id: 'polygons', type: 'fill', source: 'vector', 'source-layer': layer,
         filter: ['any', geometry('Polygon'), geometry('MultiPolygon')],
         paint: {'fill-color': VECTOR_COLOUR, 'fill-opacity': 0.5, 'fill-outline-color': VECTOR_COLOUR}},
        {id: 'lines', type: 'line', source: 'vector', 'source-layer': layer,
         paint: {'line-color': VECTOR_COLOUR, 'line-width': 3}},
        {id: 'points', type: 'circle', source: 'vector', 'source-layer': layer,
         filter: ['any', geometry('Point'), geometry('MultiPoint')],
         paint: {'circle-color': VECTOR_COLOUR, 'circle-radius': 7}}
      ]
    };
  }

  function show(mapStyle, mapBounds, maxZoom) {
    var map = new maplibregl.Map({container: 'map', style: mapStyle, bounds: mapBounds,
                                  fitBoundsOptions: {padding: 40, maxZoom: maxZoom}});
    map.on('error', function (event) { status.textContent = layer + ': ' + (event.error && event.error.message); });
    map.once('idle', function () { document.body.setAttribute('data-state', 'ready'); });
  }

  if (bounds) {
    if (bounds.length !== 4 || bounds.some(isNaN)) {
      failed('the bounds after the layer name are not west,south,east,north');
      return;
    }
    status.textContent = layer;
    show(rasterStyle(), bounds, 18);
    return;
  }
  fetch(origin + '/tiles/data/' + encodeURIComponent(layer) + '.json')
    .then(function (answer) {
      if (!answer.ok) { throw new Error('no vector tiles (TileServer GL answered ' + answer.status + ')'); }
      return answer.json();
    })
    .then(function (tilejson) {
      status.textContent = tilejson.name || layer;
      show(style(), tilejson.bounds, tilejson.maxzoom);
    })
    .catch(function (error) { failed(error.message); });
}());
