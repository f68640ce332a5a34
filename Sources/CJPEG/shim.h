#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/*
 * A small header-only helper that decodes a JPEG held in memory. libjpeg
 * reports fatal errors through error_exit, which must not return; Swift cannot
 * longjmp, so the setjmp/longjmp pair lives entirely inside this C function and
 * Swift only sees a status code and a message. Nothing is printed to stderr
 * and the process never exits.
 *
 * Behaviour follows Pillow: warnings about corrupt entropy data are tolerated,
 * but running out of data, even when only the final EOI marker is missing, is
 * an error (Pillow raises "image file is truncated" for every such cut). CMYK and YCCK images are
 * converted to RGB with Pillow's formula, treating the stored samples as
 * Adobe-inverted (Pillow's "CMYK;I" raw mode).
 */

enum {
    CONACLIP_JPEG_OK = 0,
    CONACLIP_JPEG_CORRUPT = 1,
    CONACLIP_JPEG_TRUNCATED = 2,
    CONACLIP_JPEG_TOO_LARGE = 3,
    CONACLIP_JPEG_BAD_BUFFER = 4,
    CONACLIP_JPEG_UNSUPPORTED = 5
};

typedef struct {
    int status;
    unsigned int width;
    unsigned int height;
    int components;
    int color_space; /* J_COLOR_SPACE of the file */
    int progressive;
    char message[JMSG_LENGTH_MAX + 56];
} conaclip_jpeg_result;

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int truncated;
} conaclip_jpeg_error_mgr;

static void conaclip_jpeg_error_exit(j_common_ptr cinfo) {
    conaclip_jpeg_error_mgr *err = (conaclip_jpeg_error_mgr *)cinfo->err;
    longjmp(err->jump, 1);
}

static void conaclip_jpeg_emit_message(j_common_ptr cinfo, int level) {
    conaclip_jpeg_error_mgr *err = (conaclip_jpeg_error_mgr *)cinfo->err;
    if (level < 0) {
        err->base.num_warnings++;
        if (err->base.msg_code == JWRN_JPEG_EOF) {
            err->truncated = 1;
            longjmp(err->jump, 1);
        }
    }
}

static void conaclip_jpeg_output_message(j_common_ptr cinfo) {
    (void)cinfo;
}

/* Pillow's cmyk2rgb on Adobe-inverted samples: c, k are the stored bytes. */
static inline unsigned char conaclip_jpeg_cmyk_channel(unsigned int stored_c, unsigned int stored_k) {
    unsigned int c = 255 - stored_c;
    unsigned int nk = stored_k;
    unsigned int t = c * nk + 128;
    int v = (int)nk - (int)(((t >> 8) + t) >> 8);
    return (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/*
 * Reads the header and, when `out` is not NULL, the whole image as 8-bit RGB
 * (row-major, width * 3 bytes a row) into `out`, whose size must be exactly
 * width * height * 3. Images wider or taller than `max_dimension` are refused
 * before decompression starts. Never longjmps into the caller.
 */
static inline void conaclip_jpeg_decode_rgb8(const unsigned char *data, size_t size,
                                             unsigned int max_dimension,
                                             unsigned char *out, size_t out_size,
                                             conaclip_jpeg_result *result) {
    struct jpeg_decompress_struct cinfo;
    conaclip_jpeg_error_mgr err;

    memset(result, 0, sizeof(*result));
    memset(&cinfo, 0, sizeof(cinfo));
    memset(&err, 0, sizeof(err));
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = conaclip_jpeg_error_exit;
    err.base.emit_message = conaclip_jpeg_emit_message;
    err.base.output_message = conaclip_jpeg_output_message;

    if (setjmp(err.jump)) {
        if (err.truncated) {
            result->status = CONACLIP_JPEG_TRUNCATED;
            strcpy(result->message, "the data ends before the image is complete");
        } else {
            char buffer[JMSG_LENGTH_MAX];
            buffer[0] = 0;
            if (cinfo.err != NULL) {
                (*cinfo.err->format_message)((j_common_ptr)&cinfo, buffer);
            }
            if (result->status == CONACLIP_JPEG_OK) {
                result->status = CONACLIP_JPEG_CORRUPT;
            }
            strncpy(result->message, buffer, sizeof(result->message) - 1);
        }
        jpeg_destroy_decompress(&cinfo);
        return;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    (void)jpeg_read_header(&cinfo, TRUE);

    result->width = cinfo.image_width;
    result->height = cinfo.image_height;
    result->components = cinfo.num_components;
    result->color_space = (int)cinfo.jpeg_color_space;
    result->progressive = cinfo.progressive_mode ? 1 : 0;

    if (cinfo.image_width > max_dimension || cinfo.image_height > max_dimension) {
        jpeg_destroy_decompress(&cinfo);
        result->status = CONACLIP_JPEG_TOO_LARGE;
        return;
    }
    if (cinfo.jpeg_color_space == JCS_UNKNOWN) {
        jpeg_destroy_decompress(&cinfo);
        result->status = CONACLIP_JPEG_UNSUPPORTED;
        snprintf(result->message, sizeof(result->message),
                 "JPEG with %d components in an unknown colour space", cinfo.num_components);
        return;
    }
    if (out == NULL) {
        jpeg_destroy_decompress(&cinfo);
        return;
    }
    if ((size_t)cinfo.image_width * (size_t)cinfo.image_height * 3 != out_size) {
        jpeg_destroy_decompress(&cinfo);
        result->status = CONACLIP_JPEG_BAD_BUFFER;
        strcpy(result->message, "output buffer size does not match the image");
        return;
    }

    {
        int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
        size_t width = cinfo.image_width;
        JSAMPARRAY cmyk_row = NULL;

        cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
        (void)jpeg_start_decompress(&cinfo);
        if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
            cinfo.output_components != (cmyk ? 4 : 3)) {
            jpeg_destroy_decompress(&cinfo);
            result->status = CONACLIP_JPEG_UNSUPPORTED;
            strcpy(result->message, "libjpeg produced an unexpected output layout");
            return;
        }
        if (cmyk) {
            cmyk_row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
                                                  (JDIMENSION)(width * 4), 1);
        }
        while (cinfo.output_scanline < cinfo.output_height) {
            size_t y = cinfo.output_scanline;
            unsigned char *dst = out + y * width * 3;
            JDIMENSION got;
            if (cmyk) {
                size_t x;
                got = jpeg_read_scanlines(&cinfo, cmyk_row, 1);
                for (x = 0; got == 1 && x < width; x++) {
                    const unsigned char *p = cmyk_row[0] + x * 4;
                    dst[x * 3 + 0] = conaclip_jpeg_cmyk_channel(p[0], p[3]);
                    dst[x * 3 + 1] = conaclip_jpeg_cmyk_channel(p[1], p[3]);
                    dst[x * 3 + 2] = conaclip_jpeg_cmyk_channel(p[2], p[3]);
                }
            } else {
                JSAMPROW row = dst;
                got = jpeg_read_scanlines(&cinfo, &row, 1);
            }
            if (got != 1) {
                jpeg_destroy_decompress(&cinfo);
                result->status = CONACLIP_JPEG_TRUNCATED;
                strcpy(result->message, "the decoder stopped before the last scanline");
                return;
            }
        }
    }
    (void)jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
}
