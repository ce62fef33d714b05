// njs module of the kargo proxy image (js_import kargo_tiles.js, from /etc/nginx/njs).
//
// tmsCacheFile: the file of MapProxy's cache that holds the tile of a TMS request of the
// webmercator grid, relative to the cache's base folder; the location's regex captures
// kargo_layer, kargo_z, kargo_x, kargo_y and kargo_ext. The cache's tms layout is
// <level>/<column>/<row> with level 0 one tile and rows from the north (the WMTS
// numbers), while MapProxy's TMS level t is the cache's level t + 1 (the global-mercator
// profile: level 0 has 2x2 tiles) and its rows count from the south. A tile outside the
// grid gets a name no file has: MapProxy answers it.
function tmsCacheFile(r) {
    var v = r.variables;
    var level = Number(v.kargo_z) + 1;
    var column = Number(v.kargo_x);
    var tmsRow = Number(v.kargo_y);
    var tilesAcross = Math.pow(2, level);
    if (level > 30 || column >= tilesAcross || tmsRow >= tilesAcross) {
        return '/-';
    }
    return '/' + v.kargo_layer + '_cache_EPSG3857/' + level + '/' + column + '/'
        + (tilesAcross - 1 - tmsRow) + '.' + v.kargo_ext;
}

export default {tmsCacheFile};
