#include <png.h>
#include <setjmp.h>
#include <stddef.h>
#include <string.h>

/*
 * A small header-only helper that decodes a PNG held in memory with libpng's
 * classic API. libpng reports errors by longjmp, which Swift cannot survive,
 * so the setjmp/longjmp pair lives entirely inside this C function; Swift only
 * sees a status code and a message. The classic API (rather than the
 * simplified png_image API) is used so that no gamma or colour-space
 * conversion is applied: the samples come out exactly as Pillow reads them
 * (16-bit samples keep their high byte, palettes and tRNS expand to RGBA).
 */

enum {
    CONACLIP_PNG_OK = 0,
    CONACLIP_PNG_CORRUPT = 1,
    CONACLIP_PNG_TRUNCATED = 2,
    CONACLIP_PNG_TOO_LARGE = 3,
    CONACLIP_PNG_BAD_BUFFER = 4
};

typedef struct {
    int status;
    unsigned int width;
    unsigned int height;
    int color_type;
    int bit_depth;
    int interlaced;
    char message[256];
} conaclip_png_result;

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    int truncated;
    char message[256];
} conaclip_png_source;

static void conaclip_png_read_fn(png_structp png, png_bytep out, size_t length) {
    conaclip_png_source *src = (conaclip_png_source *)png_get_io_ptr(png);
    if (length > src->size - src->offset) {
        src->truncated = 1;
        png_error(png, "the data ends before the image is complete");
    }
    memcpy(out, src->data + src->offset, length);
    src->offset += length;
}

static void conaclip_png_error_fn(png_structp png, png_const_charp message) {
    conaclip_png_source *src = (conaclip_png_source *)png_get_error_ptr(png);
    if (src != NULL && src->message[0] == 0 && message != NULL) {
        strncpy(src->message, message, sizeof(src->message) - 1);
        src->message[sizeof(src->message) - 1] = 0;
    }
    png_longjmp(png, 1);
}

static void conaclip_png_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static inline unsigned int conaclip_png_crc32(const unsigned char *bytes, size_t count) {
    unsigned int crc = 0xFFFFFFFFu;
    size_t i;
    int bit;
    for (i = 0; i < count; i++) {
        crc ^= bytes[i];
        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
    }
    return ~crc;
}

/*
 * Reads the header and, when `out` is not NULL, the whole image as 8-bit RGBA
 * (row-major, width * 4 bytes a row) into `out`, whose size must be exactly
 * width * height * 4. Images wider or taller than `max_dimension` are refused
 * before any pixel memory is touched. Never longjmps into the caller.
 */
static inline void conaclip_png_decode_rgba8(const unsigned char *data, size_t size,
                                             unsigned int max_dimension,
                                             unsigned char *out, size_t out_size,
                                             conaclip_png_result *result) {
    conaclip_png_source src;
    png_structp png;
    png_infop info;

    memset(result, 0, sizeof(*result));
    memset(&src, 0, sizeof(src));
    src.data = data;
    src.size = size;

    /* IHDR must be the first chunk: refuse absurd sizes before libpng looks
       any further (a file need not contain the pixels it claims). Only an
       intact IHDR counts; a damaged one is left for libpng to report. */
    if (size >= 33 && memcmp(data + 12, "IHDR", 4) == 0 &&
        conaclip_png_crc32(data + 12, 17) == (((unsigned int)data[29] << 24) | ((unsigned int)data[30] << 16) |
                                              ((unsigned int)data[31] << 8) | (unsigned int)data[32])) {
        unsigned int w = ((unsigned int)data[16] << 24) | ((unsigned int)data[17] << 16) |
                         ((unsigned int)data[18] << 8) | (unsigned int)data[19];
        unsigned int h = ((unsigned int)data[20] << 24) | ((unsigned int)data[21] << 16) |
                         ((unsigned int)data[22] << 8) | (unsigned int)data[23];
        if (w > max_dimension || h > max_dimension) {
            result->width = w;
            result->height = h;
            result->status = CONACLIP_PNG_TOO_LARGE;
            return;
        }
    }

    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, conaclip_png_error_fn,
                                 conaclip_png_warning_fn);
    if (png == NULL) {
        result->status = CONACLIP_PNG_CORRUPT;
        strcpy(result->message, "libpng could not allocate its decoder");
        return;
    }
    info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        result->status = CONACLIP_PNG_CORRUPT;
        strcpy(result->message, "libpng could not allocate its decoder");
        return;
    }
    /* png and info are not modified after this point, so they are valid in
       the error branch. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        result->status = src.truncated ? CONACLIP_PNG_TRUNCATED : CONACLIP_PNG_CORRUPT;
        memcpy(result->message, src.message, sizeof(result->message));
        return;
    }

    png_set_read_fn(png, &src, conaclip_png_read_fn);
    png_read_info(png, info);

    {
        png_uint_32 width = png_get_image_width(png, info);
        png_uint_32 height = png_get_image_height(png, info);
        int color_type = png_get_color_type(png, info);
        int bit_depth = png_get_bit_depth(png, info);
        int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
        int passes;
        png_uint_32 pass_index, y;

        result->width = width;
        result->height = height;
        result->color_type = color_type;
        result->bit_depth = bit_depth;
        result->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;

        if (width > max_dimension || height > max_dimension) {
            png_destroy_read_struct(&png, &info, NULL);
            result->status = CONACLIP_PNG_TOO_LARGE;
            return;
        }
        if (out == NULL) {
            png_destroy_read_struct(&png, &info, NULL);
            return;
        }
        if ((size_t)width * (size_t)height * 4 != out_size) {
            png_destroy_read_struct(&png, &info, NULL);
            result->status = CONACLIP_PNG_BAD_BUFFER;
            strcpy(result->message, "output buffer size does not match the image");
            return;
        }

        if (color_type == PNG_COLOR_TYPE_PALETTE) {
            png_set_palette_to_rgb(png);
        }
        if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
            png_set_expand_gray_1_2_4_to_8(png);
        }
        if (has_trns) {
            png_set_tRNS_to_alpha(png);
        }
        if (bit_depth == 16) {
            png_set_strip_16(png);
        }
        if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
            png_set_gray_to_rgb(png);
        }
        if ((color_type & PNG_COLOR_MASK_ALPHA) == 0 && !has_trns) {
            png_set_filler(png, 0xff, PNG_FILLER_AFTER);
        }
        passes = png_set_interlace_handling(png);
        png_read_update_info(png, info);
        if (png_get_rowbytes(png, info) != (size_t)width * 4) {
            png_destroy_read_struct(&png, &info, NULL);
            result->status = CONACLIP_PNG_CORRUPT;
            strcpy(result->message, "unexpected row layout after expansion to RGBA");
            return;
        }
        for (pass_index = 0; pass_index < (png_uint_32)passes; pass_index++) {
            for (y = 0; y < height; y++) {
                png_read_row(png, out + (size_t)y * (size_t)width * 4, NULL);
            }
        }
    }
    /* Trailing chunks after the image data are not needed, so png_read_end is
       skipped: like Pillow, a file whose pixels are complete is accepted. */
    png_destroy_read_struct(&png, &info, NULL);
}
