// A fast PNG writer for the overlays and panels: the Up filter, zlib at a low level, and the rows
// compressed in parallel bands whose raw deflate streams are joined (as pigz joins its blocks):
// every band but the last ends on a byte-aligned sync flush, the last one finishes the stream,
// and the bands' Adler-32 checksums are combined. libpng's defaults (level 6, an adaptive filter
// tried per row, one thread) spent ~90% of a query with --out in compression.
#include "include/CImageCodecs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct cic_band {
    const unsigned char *rgb;   // the whole image
    int width, first, rows;     // rows [first, first + rows)
    int level, last;
    unsigned char *out;         // raw deflate data of the band
    size_t out_size;
    uLong adler;                // Adler-32 of the band's filtered bytes
    size_t filtered_size;
    int status;
};

// Filters the band's rows with Up (each byte minus the byte above it; the image's first row stays
// as it is) and deflates them.
static void *cic_band_compress(void *arg) {
    struct cic_band *b = (struct cic_band *)arg;
    size_t stride = (size_t)b->width * 3;
    size_t n = (stride + 1) * (size_t)b->rows;
    unsigned char *filtered = malloc(n);
    if (!filtered) { b->status = CIC_NO_MEMORY; return NULL; }
    for (int r = 0; r < b->rows; r++) {
        int y = b->first + r;
        unsigned char *dst = filtered + (stride + 1) * (size_t)r;
        const unsigned char *row = b->rgb + stride * (size_t)y;
        if (y == 0) {
            dst[0] = 0;   // None
            memcpy(dst + 1, row, stride);
        } else {
            const unsigned char *above = row - stride;
            dst[0] = 2;   // Up
            for (size_t i = 0; i < stride; i++) dst[1 + i] = (unsigned char)(row[i] - above[i]);
        }
    }
    b->filtered_size = n;
    b->adler = adler32(adler32(0L, Z_NULL, 0), filtered, (uInt)n);

    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, b->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(filtered);
        b->status = CIC_NO_MEMORY;
        return NULL;
    }
    size_t capacity = deflateBound(&z, (uLong)n) + 64;
    b->out = malloc(capacity);
    if (!b->out) {
        deflateEnd(&z);
        free(filtered);
        b->status = CIC_NO_MEMORY;
        return NULL;
    }
    z.next_in = filtered;
    z.avail_in = (uInt)n;
    z.next_out = b->out;
    z.avail_out = (uInt)capacity;
    int rc = deflate(&z, b->last ? Z_FINISH : Z_SYNC_FLUSH);
    int ok = b->last ? rc == Z_STREAM_END : (rc == Z_OK && z.avail_in == 0 && z.avail_out > 0);
    b->out_size = capacity - z.avail_out;
    deflateEnd(&z);
    free(filtered);
    b->status = ok ? CIC_OK : CIC_CORRUPT;
    return NULL;
}

static void cic_put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

// Appends a chunk (length, type, data, CRC) at *p and advances it.
static void cic_chunk(unsigned char **p, const char *type, const unsigned char *data, size_t size) {
    unsigned char *q = *p;
    cic_put32(q, (uint32_t)size);
    memcpy(q + 4, type, 4);
    if (size) memcpy(q + 8, data, size);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), q + 4, (uInt)(size + 4));
    cic_put32(q + 8 + size, (uint32_t)crc);
    *p = q + 12 + size;
}

int cic_png_encode_fast(const unsigned char *rgb, int width, int height, int level, int threads,
                        unsigned char **out, size_t *out_size, char *message) {
    *out = NULL;
    *out_size = 0;
    if (width <= 0 || height <= 0 || (long long)width * 3 + 1 > 0x7fffffffLL) {
        snprintf(message, 256, "cannot write a %d x %d PNG", width, height);
        return CIC_UNSUPPORTED;
    }
    if (level < 0 || level > 9) level = 1;
    // Bands of at least 64 rows, at most 2^30 filtered bytes each (zlib's counters are 32-bit).
    size_t stride = (size_t)width * 3 + 1;
    int bands = threads < 1 ? 1 : threads;
    if (bands > height / 64) bands = height / 64 > 0 ? height / 64 : 1;
    while ((size_t)((height + bands - 1) / bands) * stride > (1u << 30)) bands++;
    if (bands > height) {
        snprintf(message, 256, "rows too wide for a PNG of %d x %d", width, height);
        return CIC_UNSUPPORTED;
    }
    struct cic_band *band = calloc((size_t)bands, sizeof *band);
    pthread_t *thread = calloc((size_t)bands, sizeof *thread);
    int *started = calloc((size_t)bands, sizeof *started);
    if (!band || !thread || !started) {
        free(band); free(thread); free(started);
        return CIC_NO_MEMORY;
    }
    for (int i = 0, first = 0; i < bands; i++) {
        int rows = height / bands + (i < height % bands ? 1 : 0);
        band[i] = (struct cic_band){rgb, width, first, rows, level, i == bands - 1, NULL, 0, 0, 0, CIC_OK};
        first += rows;
    }
    // The calling thread takes the first band; a thread that cannot start leaves its band to it too.
    for (int i = 1; i < bands; i++) started[i] = pthread_create(&thread[i], NULL, cic_band_compress, &band[i]) == 0;
    cic_band_compress(&band[0]);
    for (int i = 1; i < bands; i++) {
        if (started[i]) pthread_join(thread[i], NULL);
        else cic_band_compress(&band[i]);
    }
    int status = CIC_OK;
    size_t idat = 2 + 4;   // zlib header and Adler-32 trailer
    uLong adler = adler32(0L, Z_NULL, 0);
    for (int i = 0; i < bands; i++) {
        if (band[i].status != CIC_OK) status = band[i].status;
        idat += band[i].out_size;
        adler = i == 0 ? band[i].adler : adler32_combine(adler, band[i].adler, (z_off_t)band[i].filtered_size);
    }
    unsigned char *z = NULL, *png = NULL;
    const size_t chunk_max = 1u << 30;
    size_t chunks = (idat + chunk_max - 1) / chunk_max;
    if (status == CIC_OK) {
        z = malloc(idat);
        png = malloc(8 + 25 + idat + 12 * chunks + 12);
        if (!z || !png) status = CIC_NO_MEMORY;
    }
    if (status == CIC_OK) {
        // zlib header: deflate, 32K window, no preset dictionary; the check bits make it a multiple of 31.
        unsigned char *p = z;
        *p++ = 0x78;
        *p++ = 0x01;
        for (int i = 0; i < bands; i++) {
            memcpy(p, band[i].out, band[i].out_size);
            p += band[i].out_size;
        }
        cic_put32(p, (uint32_t)adler);

        static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        unsigned char *q = png;
        memcpy(q, signature, 8);
        q += 8;
        unsigned char ihdr[13];
        cic_put32(ihdr, (uint32_t)width);
        cic_put32(ihdr + 4, (uint32_t)height);
        ihdr[8] = 8;    // bits per channel
        ihdr[9] = 2;    // RGB
        ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;   // deflate, adaptive filtering, no interlace
        cic_chunk(&q, "IHDR", ihdr, 13);
        for (size_t at = 0; at < idat; at += chunk_max) {
            size_t n = idat - at < chunk_max ? idat - at : chunk_max;
            cic_chunk(&q, "IDAT", z + at, n);
        }
        cic_chunk(&q, "IEND", NULL, 0);
        *out = png;
        *out_size = (size_t)(q - png);
        png = NULL;
    } else {
        snprintf(message, 256, "zlib could not compress the image (%s)", status == CIC_NO_MEMORY ? "out of memory" : "deflate failed");
    }
    for (int i = 0; i < bands; i++) free(band[i].out);
    free(band); free(thread); free(started); free(z); free(png);
    return status;
}
