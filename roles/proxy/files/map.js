// The map page (/map/#<layer>): the layer's vector tiles drawn in VECTOR_COLOUR over the
// raster tiles MapProxy cached of it, zoomed to the bounds in the layer's TileJSON.
// body[data-state] says where it is: loading, ready (the map drew every tile) or error.
(function () {
  'use strict';
  var VECTOR_COLOUR = '#ff00ff';
  var layer = decodeURIComponent(location.hash.slice(1)) || 'countries';
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

  function style(tilejson) {
    return {
      version: 8,
      sources: {
        cached: {type: 'raster', tileSize: 256, maxzoom: 19,
                 tiles: [origin + '/mapproxy/wmts/' + layer + '/webmercator/{z}/{x}/{y}.png']},
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

  fetch(origin + '/tiles/data/' + encodeURIComponent(layer) + '.json')
    .then(function (answer) {
      if (!answer.ok) { throw new Error('no vector tiles (TileServer GL answered ' + answer.status + ')'); }
      return answer.json();
    })
    .then(function (tilejson) {
      status.textContent = tilejson.name || layer;
      var map = new maplibregl.Map({container: 'map', style: style(tilejson), bounds: tilejson.bounds,
                                    fitBoundsOptions: {padding: 40, maxZoom: tilejson.maxzoom}});
      map.on('error', function (event) { status.textContent = layer + ': ' + (event.error && event.error.message); });
      map.once('idle', function () { document.body.setAttribute('data-state', 'ready'); });
    })
    .catch(function (error) { failed(error.message); });
}());
