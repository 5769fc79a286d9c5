// Error-safe decoders and encoders over libjpeg(-turbo), libpng and libwebp.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>

// A hostile progressive JPEG can hold thousands of tiny scans and keep the decoder busy
// for minutes; real files have about ten.
#define CIC_MAX_SCANS 500

void cic_free(void *p) { free(p); }

static void cic_reset(cic_image *out) {
    memset(out, 0, sizeof(*out));
}

static void cic_set_message(char *dst, const char *msg) {
    snprintf(dst, 256, "%s", msg);
}

static int cic_too_large(long long w, long long h, long long max_pixels) {
    return w <= 0 || h <= 0 || w * h > max_pixels;
}

/* ------------------------------------------------------------------ JPEG */

struct cic_jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    cic_image *out;
    int status;          // status to return when we jump
    int allow_damaged;
};

static void cic_jpeg_error_exit(j_common_ptr cinfo) {
    struct cic_jpeg_err *err = (struct cic_jpeg_err *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    cic_set_message(err->out->message, buffer);
    if (err->status == CIC_OK) {
        int code = cinfo->err->msg_code;
        if (code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED ||
            code == JERR_CCIR601_NOTIMPL || code == JERR_CONVERSION_NOTIMPL)
            err->status = CIC_UNSUPPORTED;
        else if (code == JERR_OUT_OF_MEMORY)
            err->status = CIC_NO_MEMORY;
        else if (code == JERR_INPUT_EMPTY || code == JERR_INPUT_EOF)
            err->status = CIC_TRUNCATED;
        else
            err->status = CIC_CORRUPT;
    }
    longjmp(err->jump, 1);
}

// Warnings that mean pixels were lost or invented: a half-decoded image must not pass
// silently into a concept.
static int cic_jpeg_warning_loses_data(int code) {
    return code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
           code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC ||
           code == JWRN_NOT_SEQUENTIAL || code == JWRN_BOGUS_PROGRESSION;
}

static void cic_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    struct cic_jpeg_err *err = (struct cic_jpeg_err *)cinfo->err;
    int code = cinfo->err->msg_code;
    err->out->warnings++;
    cinfo->err->num_warnings++;
    if (err->out->warnings == 1) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        cic_set_message(err->out->message, buffer);
    }
    if (code == JWRN_JPEG_EOF) err->out->truncated = 1;
    if (cic_jpeg_warning_loses_data(code)) {
        err->out->damaged = 1;
        if (!err->allow_damaged) {
            char buffer[JMSG_LENGTH_MAX];
            (*cinfo->err->format_message)(cinfo, buffer);
            cic_set_message(err->out->message, buffer);
            err->status = code == JWRN_JPEG_EOF ? CIC_TRUNCATED : CIC_CORRUPT;
            longjmp(err->jump, 1);
        }
    }
}

static void cic_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void cic_jpeg_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > CIC_MAX_SCANS) {
        struct cic_jpeg_err *err = (struct cic_jpeg_err *)cinfo->err;
        snprintf(err->out->message, 256, "more than %d scans in a progressive JPEG", CIC_MAX_SCANS);
        err->status = CIC_CORRUPT;
        longjmp(err->jump, 1);
    }
}

static void cic_jpeg_setup_errors(struct cic_jpeg_err *err, cic_image *out, int allow_damaged) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = cic_jpeg_error_exit;
    err->pub.emit_message = cic_jpeg_emit_message;
    err->pub.output_message = cic_jpeg_output_message;
    err->out = out;
    err->status = CIC_OK;
    err->allow_damaged = allow_damaged;
}

int cic_jpeg_header(const unsigned char *data, size_t size, cic_image *out) {
    cic_reset(out);
    struct jpeg_decompress_struct cinfo;
    struct cic_jpeg_err err;
    cic_jpeg_setup_errors(&err, out, 1);
    cinfo.err = &err.pub;
    jpeg_create_decompress(&cinfo);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return err.status;
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    out->progressive = cinfo.progressive_mode ? 1 : 0;
    jpeg_destroy_decompress(&cinfo);
    return CIC_OK;
}

int cic_jpeg_decode(const unsigned char *data, size_t size, long long max_pixels,
                    int allow_damaged, int scale_denom, cic_image *out) {
    cic_reset(out);
    struct jpeg_decompress_struct cinfo;
    struct cic_jpeg_err err;
    struct jpeg_progress_mgr progress;
    // volatile: modified between setjmp and longjmp.
    unsigned char *volatile pixels = NULL;
    cic_jpeg_setup_errors(&err, out, allow_damaged);
    cinfo.err = &err.pub;
    jpeg_create_decompress(&cinfo);
    if (setjmp(err.jump)) {
        free(pixels);
        jpeg_destroy_decompress(&cinfo);
        return err.status;
    }
    progress.progress_monitor = cic_jpeg_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    if (cic_too_large(cinfo.image_width, cinfo.image_height, max_pixels)) {
        snprintf(out->message, 256, "%u x %u pixels", cinfo.image_width, cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return CIC_TOO_LARGE;
    }
    out->adobe = cinfo.saw_Adobe_marker ? 1 : 0;
    out->progressive = cinfo.progressive_mode ? 1 : 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        out->color = CIC_COLOR_CMYK;
        out->channels = 4;
        break;
    default:
        // libjpeg-turbo converts grayscale to RGB itself by replicating the channel.
        cinfo.out_color_space = JCS_EXT_RGB;
        out->color = CIC_COLOR_RGB;
        out->channels = 3;
        break;
    }
    if (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) {
        cinfo.scale_num = 1;
        cinfo.scale_denom = (unsigned)scale_denom;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    size_t stride = (size_t)w * (size_t)out->channels;
    pixels = malloc(stride * (size_t)h);
    if (!pixels) {
        cic_set_message(out->message, "out of memory for the pixels");
        jpeg_destroy_decompress(&cinfo);
        return CIC_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[4];
        int n = 0;
        for (; n < 4 && cinfo.output_scanline + (unsigned)n < cinfo.output_height; n++)
            rows[n] = pixels + (size_t)(cinfo.output_scanline + (unsigned)n) * stride;
        jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->width = w;
    out->height = h;
    out->pixels = pixels;
    return CIC_OK;
}

/* ------------------------------------------------------------------- PNG */

struct cic_png_src {
    const unsigned char *data;
    size_t size;
    size_t pos;
    int hit_eof;
    int image_read;     // all rows decoded: later errors only concern trailing chunks
    cic_image *out;
};

static void cic_png_read(png_structp png, png_bytep dst, png_size_t length) {
    struct cic_png_src *src = (struct cic_png_src *)png_get_io_ptr(png);
    if (length > src->size - src->pos) {
        src->hit_eof = 1;
        png_error(png, "the file ends before the image does");
    }
    memcpy(dst, src->data + src->pos, length);
    src->pos += length;
}

static void cic_png_error(png_structp png, png_const_charp msg) {
    struct cic_png_src *src = (struct cic_png_src *)png_get_error_ptr(png);
    cic_set_message(src->out->message, msg);
    png_longjmp(png, 1);
}

static void cic_png_warning(png_structp png, png_const_charp msg) {
    struct cic_png_src *src = (struct cic_png_src *)png_get_error_ptr(png);
    src->out->warnings++;
    if (src->out->warnings == 1) cic_set_message(src->out->message, msg);
}

int cic_png_decode(const unsigned char *data, size_t size, long long max_pixels, cic_image *out) {
    cic_reset(out);
    struct cic_png_src src = {data, size, 0, 0, 0, out};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, cic_png_error, cic_png_warning);
    if (!png) return CIC_NO_MEMORY;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return CIC_NO_MEMORY;
    }
    unsigned char *volatile pixels = NULL;
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        if (src.image_read) {
            // Only the chunks after the pixels were bad: keep the image, note a warning.
            out->warnings++;
            free(rows);
            png_destroy_read_struct(&png, &info, NULL);
            out->pixels = pixels;
            return CIC_OK;
        }
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return src.hit_eof ? CIC_TRUNCATED : CIC_CORRUPT;
    }
    png_set_read_fn(png, &src, cic_png_read);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    out->width = (int)w;
    out->height = (int)h;
    if (cic_too_large(w, h, max_pixels)) {
        snprintf(out->message, 256, "%u x %u pixels", w, h);
        png_destroy_read_struct(&png, &info, NULL);
        return CIC_TOO_LARGE;
    }
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    // Keep the high byte as Pillow does for 16-bit RGB; no gamma handling either (Pillow
    // ignores gAMA), so both pipelines see the same values.
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if (channels != 3 && channels != 4) {
        cic_set_message(out->message, "unexpected channel count after conversion");
        png_destroy_read_struct(&png, &info, NULL);
        return CIC_UNSUPPORTED;
    }
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * (size_t)channels) {
        cic_set_message(out->message, "unexpected row size after conversion");
        png_destroy_read_struct(&png, &info, NULL);
        return CIC_UNSUPPORTED;
    }
    pixels = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        cic_set_message(out->message, "out of memory for the pixels");
        return CIC_NO_MEMORY;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * stride;
    png_read_image(png, rows);
    src.image_read = 1;
    out->color = channels == 4 ? CIC_COLOR_RGBA : CIC_COLOR_RGB;
    out->channels = channels;
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->pixels = pixels;
    return CIC_OK;
}

int cic_png_encode(const unsigned char *rgb, int width, int height,
                   unsigned char **out, size_t *out_size, char *message) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, NULL, &size, 0, rgb, 0, NULL)) {
        cic_set_message(message, image.message);
        png_image_free(&image);
        return CIC_CORRUPT;
    }
    unsigned char *buffer = malloc(size);
    if (!buffer) return CIC_NO_MEMORY;
    if (!png_image_write_to_memory(&image, buffer, &size, 0, rgb, 0, NULL)) {
        cic_set_message(message, image.message);
        png_image_free(&image);
        free(buffer);
        return CIC_CORRUPT;
    }
    *out = buffer;
    *out_size = size;
    return CIC_OK;
}

int cic_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **out, size_t *out_size, char *message) {
    struct jpeg_compress_struct cinfo;
    struct cic_jpeg_err err;
    cic_image scratch;
    cic_reset(&scratch);
    cic_jpeg_setup_errors(&err, &scratch, 1);
    cinfo.err = &err.pub;
    unsigned char *volatile buffer = NULL;
    unsigned long volatile size = 0;
    jpeg_create_compress(&cinfo);
    if (setjmp(err.jump)) {
        cic_set_message(message, scratch.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return CIC_CORRUPT;
    }
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, (unsigned long *)&size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = size;
    return CIC_OK;
}

/* ------------------------------------------------------------------ WebP */

static const char *cic_webp_status_text(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "decoding suspended";
    case VP8_STATUS_USER_ABORT: return "decoding aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "the file ends before the image does";
    default: return "unknown error";
    }
}

static int cic_webp_status(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_NOT_ENOUGH_DATA: return CIC_TRUNCATED;
    case VP8_STATUS_OUT_OF_MEMORY: return CIC_NO_MEMORY;
    case VP8_STATUS_UNSUPPORTED_FEATURE: return CIC_UNSUPPORTED;
    default: return CIC_CORRUPT;
    }
}

static int cic_webp_first_frame(const unsigned char *data, size_t size, cic_image *out) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) return CIC_CORRUPT;
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    WebPData webp = {data, size};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&webp, &options);
    if (!dec) {
        cic_set_message(out->message, "animated WebP that the demuxer refuses");
        return CIC_CORRUPT;
    }
    uint8_t *frame = NULL;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(dec, &frame, &timestamp) || !frame) {
        WebPAnimDecoderDelete(dec);
        cic_set_message(out->message, "the first frame of the animation does not decode");
        return CIC_CORRUPT;
    }
    WebPAnimInfo info;
    if (!WebPAnimDecoderGetInfo(dec, &info) || (int)info.canvas_width != out->width ||
        (int)info.canvas_height != out->height) {
        WebPAnimDecoderDelete(dec);
        cic_set_message(out->message, "the animation canvas does not match the header");
        return CIC_CORRUPT;
    }
    size_t bytes = (size_t)out->width * (size_t)out->height * 4;
    unsigned char *pixels = malloc(bytes);
    if (!pixels) {
        WebPAnimDecoderDelete(dec);
        return CIC_NO_MEMORY;
    }
    memcpy(pixels, frame, bytes);
    WebPAnimDecoderDelete(dec);
    out->pixels = pixels;
    out->color = CIC_COLOR_RGBA;
    out->channels = 4;
    out->animated = 1;
    return CIC_OK;
}

int cic_webp_decode(const unsigned char *data, size_t size, long long max_pixels, cic_image *out) {
    cic_reset(out);
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(data, size, &features);
    if (status != VP8_STATUS_OK) {
        cic_set_message(out->message, cic_webp_status_text(status));
        return cic_webp_status(status);
    }
    out->width = features.width;
    out->height = features.height;
    if (cic_too_large(features.width, features.height, max_pixels)) {
        snprintf(out->message, 256, "%d x %d pixels", features.width, features.height);
        return CIC_TOO_LARGE;
    }
    if (features.has_animation) return cic_webp_first_frame(data, size, out);
    int channels = features.has_alpha ? 4 : 3;
    size_t stride = (size_t)features.width * (size_t)channels;
    size_t bytes = stride * (size_t)features.height;
    unsigned char *pixels = malloc(bytes);
    if (!pixels) return CIC_NO_MEMORY;
    // The Into variants do not report why they failed; run the full decoder for the status.
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) {
        free(pixels);
        return CIC_CORRUPT;
    }
    config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = pixels;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = bytes;
    status = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    if (status != VP8_STATUS_OK) {
        free(pixels);
        cic_set_message(out->message, cic_webp_status_text(status));
        return cic_webp_status(status);
    }
    out->pixels = pixels;
    out->color = channels == 4 ? CIC_COLOR_RGBA : CIC_COLOR_RGB;
    out->channels = channels;
    return CIC_OK;
}
