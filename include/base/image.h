/*
 * image.h - what an uploaded image is, from its bytes alone (never from what
 * a client says): a PNG, JPEG or WebP whose structure holds from its first
 * byte to its last, or nothing.
 */
#ifndef WXAUTH_IMAGE_H
#define WXAUTH_IMAGE_H

#include <stddef.h>

/*
 * image_type: "image/png", "image/jpeg" or "image/webp" when b (n bytes) is
 * one: PNG: the signature, an IHDR of a non-empty image first, every chunk
 * whole with its CRC, IEND last and nothing after it; JPEG: SOI, whole
 * segments up to the scan with a frame header (SOF) of a non-empty image
 * among them, EOI last; WebP: a RIFF whose size is the file's, a VP8, VP8L
 * or VP8X chunk that fits. NULL for anything else (an SVG, a PNG signature
 * on other bytes, a file cut short).
 */
const char *image_type(const unsigned char *b, size_t n);

#endif
