#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
// C shims around libjpeg, libpng and libwebp. Swift cannot call setjmp, and the libraries'
// default error handlers abort the process, so every failure is caught here and returned
// as a status plus a one-line message.
#include <stddef.h>
#include <stdint.h>

enum cic_status {
    CIC_OK = 0,
    CIC_CORRUPT = 1,      // the library refused the data (bad header, bad entropy data...)
    CIC_TRUNCATED = 2,    // the data ended before the image did
    CIC_TOO_LARGE = 3,    // width * height above the caller's limit (checked from the header)
    CIC_UNSUPPORTED = 4,  // valid file, but a variant we do not decode (12-bit JPEG...)
    CIC_NO_MEMORY = 5,
};

enum cic_color {
    CIC_COLOR_RGB = 0,    // 3 bytes per pixel
    CIC_COLOR_RGBA = 1,   // 4 bytes per pixel, straight (not premultiplied) alpha
    CIC_COLOR_CMYK = 2,   // 4 bytes per pixel as stored in the JPEG
};

typedef struct cic_image {
    int width;
    int height;
    int color;            // enum cic_color
    int channels;         // bytes per pixel in `pixels`
    int adobe;            // JPEG: an Adobe APP14 marker was seen (CMYK stored inverted)
    int progressive;      // JPEG: progressive or multi-scan
    int animated;         // WebP: animated file, first frame returned
    int warnings;         // number of warnings the library emitted
    int damaged;          // data-losing warnings seen (only when allow_damaged)
    int truncated;        // the data ended early (only when allow_damaged)
    unsigned char *pixels;// malloc'd, release with cic_free
    char message[256];    // the error, or else the first warning
} cic_image;

void cic_free(void *p);

/// scale_denom: 1, 2, 4 or 8: libjpeg DCT-domain downscaling (1 = full size).
int cic_jpeg_decode(const unsigned char *data, size_t size, long long max_pixels,
                    int allow_damaged, int scale_denom, cic_image *out);
/// Reads only the JPEG header: width and height at full scale (no pixels).
int cic_jpeg_header(const unsigned char *data, size_t size, cic_image *out);
int cic_png_decode(const unsigned char *data, size_t size, long long max_pixels, cic_image *out);
int cic_webp_decode(const unsigned char *data, size_t size, long long max_pixels, cic_image *out);

/// Encoders: RGB interleaved input. On success *out is malloc'd (release with cic_free).
int cic_png_encode(const unsigned char *rgb, int width, int height,
                   unsigned char **out, size_t *out_size, char *message);
/// PNG through zlib directly: the Up filter, deflate at `level` (1: fastest), the rows compressed in
/// up to `threads` bands in parallel (png_fast.c). Same contract as cic_png_encode.
int cic_png_encode_fast(const unsigned char *rgb, int width, int height, int level, int threads,
                        unsigned char **out, size_t *out_size, char *message);
int cic_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **out, size_t *out_size, char *message);

#endif
