// The landing page's cards, one per layer of QGIS Server's default project (the sample
// layer and each dataset of kargo_datasets), read from its WMS capabilities: a preview
// drawn by a WMS GetMap over the layer's extent, and the layer's links in every service
// that publishes it (data-services: the services behind this proxy). The layers that are
// also OGC API Features collections are the vector ones: WFS, OGC API Features and
// vector tiles are theirs, and so is the extent (QGIS gives a point layer in EPSG:3857 an
// empty EX_GeographicBoundingBox in its capabilities); a raster dataset has WMS and WMTS.
(function () {
  'use strict';
  var box = document.getElementById('kargo-datasets');
  var services = JSON.parse(box.getAttribute('data-services'));
  var EARTH = 6378137;

  function mercator(lon, lat) {
    var clamped = Math.max(Math.min(lat, 85), -85);
    return [lon * Math.PI / 180 * EARTH, Math.log(Math.tan(Math.PI / 4 + clamped * Math.PI / 360)) * EARTH];
  }

  // The extent in EPSG:3857, 3:2 like the preview, with a margin (a lone point gets 1 km).
  function previewBox(bbox) {
    var low = mercator(bbox[0], bbox[1]), high = mercator(bbox[2], bbox[3]);
    var cx = (low[0] + high[0]) / 2, cy = (low[1] + high[1]) / 2;
    var half = Math.max((high[0] - low[0]) / 2, (high[1] - low[1]) / 2 * 1.5, 1000) * 1.1;
    return [cx - half, cy - half / 1.5, cx + half, cy + half / 1.5];
  }

  function links(id, vector, bbox) {
    var tiles = vector && services.indexOf('tileserver_gl') >= 0;
    var found = [];
    // the map page: a vector layer's vector tiles (bounds from their TileJSON), or a
    // raster's cached tiles (bounds in the link)
    if (tiles) { found.push(['map', '/map/#' + id]); }
    if (!vector && services.indexOf('mapproxy') >= 0) { found.push(['map', '/map/#' + id + '/' + bbox.join(',')]); }
    found.push(['WMS', '/qgis/?SERVICE=WMS&REQUEST=GetCapabilities']);
    if (vector) {
      found.push(
        ['WFS', '/qgis/?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&MAXFEATURES=100&OUTPUTFORMAT=application/vnd.geo%2Bjson&TYPENAME=' + id],
        ['OGC API Features', '/qgis/wfs3/collections/' + id + '/items.html']);
    }
    if (services.indexOf('mapproxy') >= 0) {
      found.push(['WMTS', '/mapproxy/wmts/1.0.0/WMTSCapabilities.xml']);
      found.push(['WMTS tile 0/0/0', '/mapproxy/wmts/' + id + '/webmercator/0/0/0.png']);
    }
    if (tiles) {
      found.push(['vector tiles (TileJSON)', '/tiles/data/' + id + '.json']);
      found.push(['vector tile 0/0/0', '/tiles/data/' + id + '/0/0/0.pbf']);
    }
    return found;
  }

  function element(tag, attributes, text) {
    var made = document.createElement(tag);
    Object.keys(attributes).forEach(function (name) { made.setAttribute(name, attributes[name]); });
    if (text) { made.textContent = text; }
    return made;
  }

  function card(layer) {
    var id = layer.name, bbox = layer.bbox;
    var made = element('article', {'class': 'card', 'id': 'dataset-' + id, 'data-dataset': id,
                                   'data-kind': layer.vector ? 'vector' : 'raster'});
    made.appendChild(element('img', {
      alt: 'preview of ' + id, width: '240', height: '160',
      src: '/qgis/?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&STYLES=&CRS=EPSG:3857&WIDTH=240&HEIGHT=160' +
           '&FORMAT=image/png&TRANSPARENT=false&LAYERS=' + encodeURIComponent(id) + '&BBOX=' + previewBox(bbox).join(',')}));
    made.appendChild(element('h3', {}, layer.title || id));
    var list = element('ul', {});
    links(id, layer.vector, bbox).forEach(function (link) {
      var item = element('li', {});
      item.appendChild(element('a', {href: link[1]}, link[0]));
      list.appendChild(item);
    });
    made.appendChild(list);
    return made;
  }

  function child(node, tag) {
    for (var one = node.firstElementChild; one; one = one.nextElementSibling) {
      if (one.localName === tag) { return one; }
    }
    return null;
  }

  function number(node, tag) { return parseFloat(child(node, tag).textContent); }

  // The named layers without sublayers, in the capabilities' order: {name, title, bbox}.
  function wmsLayers(capabilities) {
    var found = [];
    Array.prototype.forEach.call(capabilities.getElementsByTagName('Layer'), function (layer) {
      var name = child(layer, 'Name'), box_ = child(layer, 'EX_GeographicBoundingBox');
      if (!name || !box_ || child(layer, 'Layer')) { return; }
      var title = child(layer, 'Title');
      found.push({name: name.textContent, title: title ? title.textContent : '', bbox: [
        number(box_, 'westBoundLongitude'), number(box_, 'southBoundLatitude'),
        number(box_, 'eastBoundLongitude'), number(box_, 'northBoundLatitude')]});
    });
    return found;
  }

  function read(url, how) {
    return fetch(url).then(function (answer) {
      if (!answer.ok) { throw new Error('QGIS Server answered ' + answer.status + ' to ' + url); }
      return answer[how]();
    });
  }

  Promise.all([read('/qgis/?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities', 'text'),
               read('/qgis/wfs3/collections.json', 'json')])
    .then(function (answers) {
      var capabilities = new DOMParser().parseFromString(answers[0], 'application/xml');
      var collections = {};
      answers[1].collections.forEach(function (collection) { collections[collection.id] = collection; });
      var layers = wmsLayers(capabilities);
      box.textContent = '';
      layers.forEach(function (layer) {
        var collection = collections[layer.name];
        layer.vector = Boolean(collection);
        if (collection) { layer.bbox = collection.extent.spatial.bbox[0]; }
        box.appendChild(card(layer));
      });
      box.setAttribute('data-loaded', String(layers.length));
    })
    .catch(function (error) {
      box.textContent = 'The layers could not be read: ' + error.message;
      box.setAttribute('data-loaded', 'error');
    });
}());
