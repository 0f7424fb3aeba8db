/*
 * imurun wire protocol v1: C99 reference implementation. See imurun_proto.h and SPEC.md.
 */
#include "imurun_proto.h"

#include <float.h>
#include <string.h>

/* The wire carries IEEE-754 binary32; refuse to build where float is not 4 bytes. */
typedef char imr_float_is_4_bytes[(sizeof(float) == 4) ? 1 : -1];

/* ------------------------------------------------------------------------------ helpers */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v & 0xFFFFFFFFu));
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static void put_i16(uint8_t *p, int16_t v)
{
    put_u16(p, (uint16_t)v); /* two's complement bit pattern (conversion is modulo 2^16) */
}

static void put_f32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u32(p, bits);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

/* Length checks against bounds a 16-bit size_t (AVR, MSP430) cannot even reach: written so
 * that they compile there without "comparison is always false" (-Wextra -Werror). */
#if SIZE_MAX > 0x7FFFFFF0u
#define LEN_OVER_INT32(n) ((n) > 0x7FFFFFF0u)
#else
#define LEN_OVER_INT32(n) 0
#endif
#if SIZE_MAX > IMR_MAX_MESSAGE_SIZE
#define LEN_OVER_MESSAGE(n) ((n) > IMR_MAX_MESSAGE_SIZE)
#else
#define LEN_OVER_MESSAGE(n) 0
#endif

/* > 0 and finite (NaN compares false). */
static int positive_finite(float v)
{
    return v > 0.0f && v <= FLT_MAX;
}

const char *imr_strerror(int32_t err)
{
    switch (err) {
    case IMR_OK: return "ok";
    case IMR_ERR_BUFFER: return "buffer";
    case IMR_ERR_ARG: return "arg";
    case IMR_ERR_SHORT: return "short";
    case IMR_ERR_TOO_LONG: return "too_long";
    case IMR_ERR_LENGTH: return "length";
    case IMR_ERR_CRC: return "crc";
    case IMR_ERR_VERSION: return "version";
    case IMR_ERR_COBS: return "cobs";
    case IMR_ERR_OVERFLOW: return "overflow";
    case IMR_ERR_TOO_LARGE: return "too_large";
    case IMR_ERR_MALFORMED: return "malformed";
    case IMR_ERR_NOT_REQUEST: return "not_request";
    default: return "?";
    }
}

/* ------------------------------------------------------------------------------ CRCs */

/* CRC-16/CCITT-FALSE of the nibble i in the top 4 bits of the register, shifted out. */
static const uint16_t crc16_nibble[16] = {
    0x0000u, 0x1021u, 0x2042u, 0x3063u, 0x4084u, 0x50A5u, 0x60C6u, 0x70E7u,
    0x8108u, 0x9129u, 0xA14Au, 0xB16Bu, 0xC18Cu, 0xD1ADu, 0xE1CEu, 0xF1EFu,
};

uint16_t imr_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned b = data[i];
        crc = (uint16_t)((crc << 4) ^ crc16_nibble[((crc >> 12) ^ (b >> 4)) & 0x0Fu]);
        crc = (uint16_t)((crc << 4) ^ crc16_nibble[((crc >> 12) ^ b) & 0x0Fu]);
    }
    return crc;
}

/* Reflected CRC-32 (poly 0xEDB88320) of the nibble i, shifted out of the low end. */
static const uint32_t crc32_nibble[16] = {
    0x00000000ul, 0x1DB71064ul, 0x3B6E20C8ul, 0x26D930ACul,
    0x76DC4190ul, 0x6B6B51F4ul, 0x4DB26158ul, 0x5005713Cul,
    0xEDB88320ul, 0xF00F9344ul, 0xD6D6A3E8ul, 0xCB61B38Cul,
    0x9B64C2B0ul, 0x86D3D2D4ul, 0xA00AE278ul, 0xBDBDF21Cul,
};

uint32_t imr_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc = (crc >> 4) ^ crc32_nibble[(crc ^ data[i]) & 0x0Fu];
        crc = (crc >> 4) ^ crc32_nibble[(crc ^ ((uint32_t)data[i] >> 4)) & 0x0Fu];
    }
    return ~crc;
}

/* ------------------------------------------------------------------------------ COBS */

/* Streaming COBS encoder: bytes go in one at a time, so a frame can be encoded while its CRC is
 * computed, without an intermediate copy. A group is closed when it holds 254 bytes *and*
 * another byte follows, which gives the canonical encoding (no trailing 0x01 after a full
 * group at the end). */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t pos;       /* next free output byte */
    size_t code_at;   /* where the current group's code byte goes */
    unsigned code;    /* 1 + bytes in the current group */
    int error;
} cobs_enc_t;

static void cobs_begin(cobs_enc_t *e, uint8_t *out, size_t cap)
{
    e->out = out;
    e->cap = cap;
    e->code_at = 0;
    e->pos = 1;
    e->code = 1;
    e->error = cap < 1;
}

static void cobs_close_group(cobs_enc_t *e)
{
    e->out[e->code_at] = (uint8_t)e->code;
    if (e->pos >= e->cap) {
        e->error = 1;
        return;
    }
    e->code_at = e->pos++;
    e->code = 1;
}

static void cobs_put(cobs_enc_t *e, uint8_t b)
{
    if (e->error)
        return;
    if (e->code == 0xFFu) {
        cobs_close_group(e);
        if (e->error)
            return;
    }
    if (b == 0) {
        cobs_close_group(e);
        return;
    }
    if (e->pos >= e->cap) {
        e->error = 1;
        return;
    }
    e->out[e->pos++] = b;
    e->code++;
}

static int32_t cobs_end(cobs_enc_t *e)
{
    if (e->error)
        return IMR_ERR_BUFFER;
    e->out[e->code_at] = (uint8_t)e->code;
    return (int32_t)e->pos;
}

int32_t imr_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    cobs_enc_t e;
    size_t i;
    if (LEN_OVER_INT32(len))
        return IMR_ERR_ARG;
    cobs_begin(&e, out, cap);
    for (i = 0; i < len; i++)
        cobs_put(&e, in[i]);
    return cobs_end(&e);
}

int32_t imr_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    if (LEN_OVER_INT32(len))
        return IMR_ERR_ARG;
    while (i < len) {
        unsigned code = in[i++];
        size_t k;
        if (code == 0)
            return IMR_ERR_COBS;
        if ((size_t)(code - 1u) > len - i)
            return IMR_ERR_COBS;
        for (k = 1; k < code; k++) {
            uint8_t b = in[i++];
            if (b == 0)
                return IMR_ERR_COBS;
            if (o >= cap)
                return IMR_ERR_BUFFER;
            out[o++] = b;          /* o < i always holds, so in == out is safe */
        }
        if (code < 0xFFu && i < len) {
            if (o >= cap)
                return IMR_ERR_BUFFER;
            out[o++] = 0;
        }
    }
    return (int32_t)o;
}

/* ------------------------------------------------------------------------------ frames */

static void frame_header(const imr_frame_t *f, uint8_t h[IMR_FRAME_HEADER_SIZE])
{
    h[0] = f->version;
    h[1] = f->type;
    h[2] = f->flags;
    put_u16(h + 3, f->seq);
    put_u16(h + 5, f->boot_id);
    put_u16(h + 7, f->length);
}

static int frame_args_ok(const imr_frame_t *f)
{
    return f->version != 0 && f->length <= IMR_MAX_FRAME_PAYLOAD &&
           (f->length == 0 || f->payload != NULL);
}

int32_t imr_frame_encode(const imr_frame_t *f, uint8_t *out, size_t cap)
{
    size_t n;
    uint16_t crc;
    if (!frame_args_ok(f))
        return IMR_ERR_ARG;
    n = IMR_FRAME_SIZE((size_t)f->length);
    if (cap < n)
        return IMR_ERR_BUFFER;
    frame_header(f, out);
    if (f->length)
        memmove(out + IMR_FRAME_HEADER_SIZE, f->payload, f->length);
    crc = imr_crc16(IMR_CRC16_INIT, out, IMR_FRAME_HEADER_SIZE + (size_t)f->length);
    put_u16(out + IMR_FRAME_HEADER_SIZE + f->length, crc);
    return (int32_t)n;
}

int32_t imr_frame_encode_stream(const imr_frame_t *f, uint8_t *out, size_t cap)
{
    uint8_t h[IMR_FRAME_HEADER_SIZE];
    uint8_t c[2];
    cobs_enc_t e;
    uint16_t crc;
    size_t i;
    int32_t n;
    if (!frame_args_ok(f))
        return IMR_ERR_ARG;
    frame_header(f, h);
    crc = imr_crc16(IMR_CRC16_INIT, h, sizeof h);
    if (f->length)
        crc = imr_crc16(crc, f->payload, f->length);
    put_u16(c, crc);
    cobs_begin(&e, out, cap);
    for (i = 0; i < sizeof h; i++)
        cobs_put(&e, h[i]);
    for (i = 0; i < f->length; i++)
        cobs_put(&e, f->payload[i]);
    cobs_put(&e, c[0]);
    cobs_put(&e, c[1]);
    n = cobs_end(&e);
    if (n < 0)
        return n;
    if ((size_t)n >= cap)
        return IMR_ERR_BUFFER;
    out[n] = 0;
    return n + 1;
}

int32_t imr_frame_decode(const uint8_t *data, size_t len, imr_frame_t *f)
{
    uint16_t length;
    if (len < IMR_FRAME_OVERHEAD)
        return IMR_ERR_SHORT;
    length = get_u16(data + 7);
    if (length > IMR_MAX_FRAME_PAYLOAD)
        return IMR_ERR_TOO_LONG;
    if (len != IMR_FRAME_OVERHEAD + (size_t)length)
        return IMR_ERR_LENGTH;
    if (imr_crc16(IMR_CRC16_INIT, data, len - 2) != get_u16(data + len - 2))
        return IMR_ERR_CRC;
    if (data[0] == 0)
        return IMR_ERR_VERSION;
    f->version = data[0];
    f->type = data[1];
    f->flags = data[2];
    f->seq = get_u16(data + 3);
    f->boot_id = get_u16(data + 5);
    f->length = length;
    f->payload = data + IMR_FRAME_HEADER_SIZE;
    return IMR_OK;
}

/* ------------------------------------------------------------------------------ sender */

void imr_tx_init(imr_tx_t *tx, uint16_t boot_id, uint16_t first_seq)
{
    tx->seq = first_seq;
    tx->boot_id = boot_id;
    tx->version = IMR_PROTOCOL_VERSION;
}

int32_t imr_frag_init(imr_frag_t *it, uint8_t type, const uint8_t *body, size_t len,
                      size_t max_payload)
{
    if (max_payload < 1 || max_payload > IMR_MAX_FRAME_PAYLOAD || LEN_OVER_MESSAGE(len) ||
        (len > 0 && body == NULL))
        return IMR_ERR_ARG;
    it->body = body;
    it->len = len;
    it->pos = 0;
    it->max_payload = (uint16_t)max_payload;
    it->type = type;
    it->done = 0;
    return IMR_OK;
}

int32_t imr_frag_next(imr_frag_t *it, imr_tx_t *tx, int stream, uint8_t *out, size_t cap)
{
    imr_frame_t f;
    size_t take;
    int32_t n;
    if (it->done)
        return 0;
    take = it->len - it->pos;
    if (take > it->max_payload)
        take = it->max_payload;
    f.version = tx->version;
    f.type = it->type;
    f.flags = (uint8_t)(((it->pos + take < it->len) ? IMR_FLAG_MORE : 0u) |
                        ((it->pos > 0) ? IMR_FLAG_CONT : 0u));
    f.seq = tx->seq;
    f.boot_id = tx->boot_id;
    f.length = (uint16_t)take;
    f.payload = take ? it->body + it->pos : NULL;
    n = stream ? imr_frame_encode_stream(&f, out, cap) : imr_frame_encode(&f, out, cap);
    if (n < 0)
        return n;
    it->pos += take;
    if (it->pos >= it->len)
        it->done = 1;
    tx->seq = (uint16_t)(tx->seq + 1u);
    return n;
}

/* ------------------------------------------------------------------------------ messages, sensor -> host */

int imr_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;        /* no overlongs */
            else if (c == 0xED)
                hi = 0x9F;        /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;        /* no overlongs */
            else if (c == 0xF4)
                hi = 0x8F;        /* <= U+10FFFF */
        } else {
            return 0;
        }
        if (len - i - 1 < need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0u) != 0x80u)
                return 0;
        i += need + 1;
    }
    return 1;
}

int32_t imr_enc_device_info(const imr_device_info_t *m, uint8_t *out, size_t cap)
{
    size_t n = IMR_DEVICE_INFO_SIZE((size_t)m->name_len);
    if (m->sample_rate_hz == 0 || m->acc_range_g == 0 || m->gyr_range_dps == 0 ||
        m->name_len > IMR_MAX_NAME_BYTES || !positive_finite(m->acc_lsb_ms2) ||
        !positive_finite(m->gyr_lsb_rads) || (m->name_len && m->name == NULL) ||
        (m->name_len && !imr_utf8_valid(m->name, m->name_len)))
        return IMR_ERR_ARG;
    if (cap < n)
        return IMR_ERR_BUFFER;
    put_u64(out, m->device_id);
    out[8] = m->fw_major;
    out[9] = m->fw_minor;
    out[10] = m->fw_patch;
    out[11] = m->protocol_version;
    put_u16(out + 12, m->sample_rate_hz);
    out[14] = m->acc_range_g;
    put_u16(out + 15, m->gyr_range_dps);
    put_f32(out + 17, m->acc_lsb_ms2);
    put_f32(out + 21, m->gyr_lsb_rads);
    out[25] = m->mounting_hint;
    out[26] = m->name_len;
    if (m->name_len)
        memcpy(out + 27, m->name, m->name_len);
    return (int32_t)n;
}

int32_t imr_enc_sample_batch(uint64_t device_time_us, uint32_t sample_counter,
                             const int16_t *counts, size_t n, uint8_t *out, size_t cap)
{
    size_t i, total;
    /* SPEC 1: a message is at most 65536 bytes, so n <= 5460 (which also keeps 14 + 12 n
     * within a 16-bit size_t); SPEC 3.2: device_time_us >= 2^63 is invalid */
    if (n > IMR_MAX_BATCH_SAMPLES || (n && counts == NULL) ||
        device_time_us >= (UINT64_C(1) << 63))
        return IMR_ERR_ARG;
    total = IMR_SAMPLE_BATCH_SIZE(n);
    if (cap < total)
        return IMR_ERR_BUFFER;
    put_u64(out, device_time_us);
    put_u32(out + 8, sample_counter);
    put_u16(out + 12, (uint16_t)n);
    for (i = 0; i < n * IMR_SAMPLE_CHANNELS; i++)
        put_i16(out + 14 + 2 * i, counts[i]);
    return (int32_t)total;
}

int32_t imr_enc_time_sync(uint64_t host_time_us, uint64_t device_time_us, uint8_t *out,
                          size_t cap)
{
    if (cap < IMR_TIME_SYNC_SIZE)
        return IMR_ERR_BUFFER;
    put_u64(out, host_time_us);
    put_u64(out + 8, device_time_us);
    return (int32_t)IMR_TIME_SYNC_SIZE;
}

int32_t imr_enc_status(const imr_status_t *m, uint8_t *out, size_t cap)
{
    if (m->battery_pct > 100)
        return IMR_ERR_ARG;
    if (cap < IMR_STATUS_SIZE)
        return IMR_ERR_BUFFER;
    out[0] = m->battery_pct;
    put_u16(out + 1, m->battery_mv);
    put_u32(out + 3, m->storage_used_bytes);
    put_u32(out + 7, m->storage_free_bytes);
    out[11] = m->state;
    put_u16(out + 12, m->n_runs);
    put_u64(out + 14, m->device_time_us);
    return (int32_t)IMR_STATUS_SIZE;
}

int32_t imr_enc_catalogue(const imr_run_entry_t *runs, size_t count, uint8_t *out, size_t cap)
{
    size_t i, total;
    if (count > IMR_MAX_CATALOGUE_RUNS || (count && runs == NULL))
        return IMR_ERR_ARG;  /* SPEC 1: 2 + 20 count <= 65536 */
    total = IMR_CATALOGUE_SIZE(count);
    if (cap < total)
        return IMR_ERR_BUFFER;
    put_u16(out, (uint16_t)count);
    for (i = 0; i < count; i++) {
        uint8_t *p = out + 2 + 20 * i;
        put_u32(p, runs[i].run_id);
        put_u64(p + 4, runs[i].start_unix_ms);
        put_u32(p + 12, runs[i].size);
        put_u32(p + 16, runs[i].crc32);
    }
    return (int32_t)total;
}

int32_t imr_enc_run_chunk(uint32_t run_id, uint32_t offset, const uint8_t *data, size_t len,
                          uint8_t *out, size_t cap)
{
    uint32_t crc;
    if (len > IMR_MAX_MESSAGE_SIZE - 12u || (len && data == NULL))
        return IMR_ERR_ARG;
    if (cap < 12u || cap - 12u < len)  /* not cap < 12 + len: that wraps in a 16-bit size_t */
        return IMR_ERR_BUFFER;
    crc = imr_crc32(0, data, len);
    if (len)
        memmove(out + 12, data, len);
    put_u32(out, run_id);
    put_u32(out + 4, offset);
    put_u32(out + 8, crc);
    return (int32_t)len + 12;
}

int32_t imr_enc_run_erased(uint32_t run_id, uint8_t *out, size_t cap)
{
    if (cap < IMR_RUN_ERASED_SIZE)
        return IMR_ERR_BUFFER;
    put_u32(out, run_id);
    return (int32_t)IMR_RUN_ERASED_SIZE;
}

int32_t imr_enc_config_value(uint8_t key, const uint8_t *value, size_t value_len, uint8_t *out,
                             size_t cap)
{
    if (value_len > IMR_MAX_CONFIG_VALUE || (value_len && value == NULL))
        return IMR_ERR_ARG;
    if (cap < 1 + value_len)
        return IMR_ERR_BUFFER;
    out[0] = key;
    if (value_len)
        memmove(out + 1, value, value_len);
    return (int32_t)(1 + value_len);
}

static void event_body(uint8_t code, uint64_t device_time_us, uint32_t value, uint8_t *out)
{
    out[0] = code;
    put_u64(out + 1, device_time_us);
    put_u32(out + 9, value);
}

int32_t imr_enc_event(uint8_t code, uint64_t device_time_us, uint32_t value, uint8_t *out,
                      size_t cap)
{
    if (cap < IMR_EVENT_SIZE)
        return IMR_ERR_BUFFER;
    event_body(code, device_time_us, value, out);
    return (int32_t)IMR_EVENT_SIZE;
}

int32_t imr_enc_ack(uint8_t request_type, uint8_t *out, size_t cap)
{
    if (cap < IMR_ACK_SIZE)
        return IMR_ERR_BUFFER;
    out[0] = request_type;
    return (int32_t)IMR_ACK_SIZE;
}

int32_t imr_enc_error(uint16_t code, uint8_t request_type, const uint8_t *text, size_t text_len,
                      uint8_t *out, size_t cap)
{
    if (text_len > IMR_MAX_TEXT_BYTES || (text_len && text == NULL) ||
        (text_len && !imr_utf8_valid(text, text_len)))
        return IMR_ERR_ARG;
    if (cap < IMR_ERROR_SIZE(text_len))
        return IMR_ERR_BUFFER;
    if (text_len)
        memmove(out + 3, text, text_len);
    put_u16(out, code);
    out[2] = request_type;
    return (int32_t)IMR_ERROR_SIZE(text_len);
}

/* ------------------------------------------------------------------------------ requests */

int imr_is_request(uint8_t type)
{
    switch (type) {
    case IMR_DEVICE_INFO_REQUEST:
    case IMR_TIME_SYNC_REQUEST:
    case IMR_STATUS_REQUEST:
    case IMR_CATALOGUE_REQUEST:
    case IMR_RUN_READ:
    case IMR_RUN_ERASE:
    case IMR_CONFIG_GET:
    case IMR_CONFIG_SET:
    case IMR_STREAM_START:
    case IMR_STREAM_STOP:
    case IMR_RECORD_START:
    case IMR_RECORD_STOP:
        return 1;
    default:
        return 0;
    }
}

int32_t imr_decode_request(uint8_t type, const uint8_t *payload, size_t len, imr_request_t *req)
{
    if (!imr_is_request(type))
        return IMR_ERR_NOT_REQUEST;
    memset(req, 0, sizeof *req);
    req->type = type;
    switch (type) {
    case IMR_TIME_SYNC_REQUEST:
        if (len < 8)
            return IMR_ERR_MALFORMED;
        req->u.time_sync.host_time_us = get_u64(payload);
        break;
    case IMR_RUN_READ:
        if (len < 12)
            return IMR_ERR_MALFORMED;
        req->u.run_read.run_id = get_u32(payload);
        req->u.run_read.offset = get_u32(payload + 4);
        req->u.run_read.length = get_u32(payload + 8);
        break;
    case IMR_RUN_ERASE:
        if (len < 8)
            return IMR_ERR_MALFORMED;
        req->u.run_erase.run_id = get_u32(payload);
        req->u.run_erase.crc32 = get_u32(payload + 4);
        break;
    case IMR_CONFIG_GET:
        if (len < 1)
            return IMR_ERR_MALFORMED;
        req->u.config_get.key = payload[0];
        break;
    case IMR_CONFIG_SET: {
        size_t n;
        if (len < 1)
            return IMR_ERR_MALFORMED;
        n = len - 1;
        if (n > IMR_MAX_CONFIG_VALUE)
            return IMR_ERR_MALFORMED;  /* values are at most 64 bytes (SPEC §3) */
        req->u.config_set.key = payload[0];
        req->u.config_set.value_len = (uint8_t)n;
        if (n)
            memcpy(req->u.config_set.value, payload + 1, n);
        break;
    }
    default: /* the empty requests: any payload is fine (trailing bytes are ignored) */
        break;
    }
    return IMR_OK;
}

/* ------------------------------------------------------------------------------ stream receiver */

void imr_rx_init(imr_rx_t *rx, uint8_t *buf, size_t cap)
{
    rx->buf = buf;
    rx->cap = cap;
    rx->len = 0;
    rx->offset = 0;
    rx->start = 0;
    rx->overflow = 0;
    rx->frames_ok = 0;
    rx->frames_corrupt = 0;
}

static void rx_drop(imr_rx_t *rx, imr_rx_event_t *ev, int32_t err, uint32_t n_bytes)
{
    ev->kind = IMR_RX_DROPPED;
    ev->error = err;
    ev->offset = rx->start;
    ev->n_bytes = n_bytes;
    rx->frames_corrupt++;
}

/* A delimiter ended rx->buf[0 .. len): decode it in place. */
static void rx_frame(imr_rx_t *rx, imr_rx_event_t *ev)
{
    uint32_t n_bytes = (uint32_t)rx->len + 1u;
    int32_t n = imr_cobs_decode(rx->buf, rx->len, rx->buf, rx->cap);
    int32_t err;
    if (n < 0) {
        rx_drop(rx, ev, IMR_ERR_COBS, n_bytes);
        return;
    }
    err = imr_frame_decode(rx->buf, (size_t)n, &ev->frame);
    if (err != IMR_OK) {
        rx_drop(rx, ev, err, n_bytes);
        return;
    }
    ev->kind = IMR_RX_FRAME;
    ev->error = IMR_OK;
    ev->offset = rx->start;
    ev->n_bytes = n_bytes;
    rx->frames_ok++;
}

size_t imr_rx_feed(imr_rx_t *rx, const uint8_t *data, size_t len, imr_rx_event_t *ev)
{
    size_t i;
    ev->kind = IMR_RX_NONE;
    ev->error = IMR_OK;
    for (i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (b == 0) {
            int had = !rx->overflow && rx->len > 0;
            if (had)
                rx_frame(rx, ev);
            rx->len = 0;
            rx->overflow = 0;
            rx->offset++;
            if (had)
                return i + 1;
            continue;
        }
        if (rx->len == 0)
            rx->start = rx->offset;
        rx->offset++;
        if (rx->overflow)
            continue;
        if (rx->len >= rx->cap) {
            rx->overflow = 1;
            rx_drop(rx, ev, IMR_ERR_OVERFLOW, (uint32_t)rx->len + 1u);
            rx->len = 0;
            return i + 1;
        }
        rx->buf[rx->len++] = b;
    }
    return len;
}

/* ------------------------------------------------------------------------------ assembler */

void imr_asm_init(imr_asm_t *a, uint8_t *buf, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->buf = buf;
    a->cap = cap;
}

static void asm_discard(imr_asm_t *a)
{
    if (a->frag_active)
        a->fragments_discarded += a->frag_frames;
    a->frag_active = 0;
    a->frag_frames = 0;
    a->len = 0;
}

void imr_asm_push(imr_asm_t *a, const imr_frame_t *f, imr_asm_event_t *ev)
{
    int more = (f->flags & IMR_FLAG_MORE) != 0;
    int cont = (f->flags & IMR_FLAG_CONT) != 0;
    memset(ev, 0, sizeof *ev);
    ev->kind = IMR_ASM_NONE;
    if (a->has_boot && f->boot_id != a->boot_id) {
        ev->rebooted = 1;
        ev->old_boot_id = a->boot_id;
        a->reboots++;
        a->has_seq = 0;
        asm_discard(a);
    } else if (a->has_seq) {
        uint16_t missing;
        if (f->seq == a->last_seq) {  /* delivered twice by the link: keep the first */
            a->frames_duplicate++;
            return;
        }
        missing = (uint16_t)(f->seq - a->last_seq - 1u);
        if (missing) {
            ev->lost = missing;
            a->frames_lost += missing;
            asm_discard(a);
        }
    }
    a->has_boot = 1;
    a->boot_id = f->boot_id;
    a->has_seq = 1;
    a->last_seq = f->seq;

    ev->type = f->type;
    ev->version = f->version;
    ev->seq = f->seq;
    ev->boot_id = f->boot_id;
    if (cont) {
        if (!a->frag_active || f->type != a->frag_type) {
            asm_discard(a);  /* a continuation whose beginning was lost: not a message */
            a->fragments_discarded++;
            return;
        }
    } else {
        asm_discard(a);      /* a new message begins: an unfinished one is lost */
    }
    if (more || cont) {
        a->frag_active = 1;
        a->frag_type = f->type;
        a->frag_frames++;
        if (f->length > a->cap - a->len) {
            ev->kind = IMR_ASM_DROPPED;
            ev->error = IMR_ERR_TOO_LARGE;
            asm_discard(a);  /* its remaining fragments become orphans */
            return;
        }
        if (f->length)
            memcpy(a->buf + a->len, f->payload, f->length);
        a->len += f->length;
        if (more)
            return;
        ev->kind = IMR_ASM_MESSAGE;
        ev->n_frames = a->frag_frames;
        ev->payload = a->buf;
        ev->length = a->len;
        a->frag_active = 0;
        a->frag_frames = 0;
        a->len = 0;  /* the data stays in buf until the next push */
    } else {
        ev->kind = IMR_ASM_MESSAGE;
        ev->n_frames = 1;
        ev->payload = f->payload;
        ev->length = f->length;
    }
    a->messages++;
}

int imr_reply_for(const imr_asm_event_t *ev, imr_request_t *req, uint16_t *error_code)
{
    *error_code = 0;
    if (ev->kind != IMR_ASM_MESSAGE && ev->kind != IMR_ASM_DROPPED)
        return IMR_REPLY_NONE;
    if (!imr_is_request(ev->type)) {
        *error_code = IMR_E_UNKNOWN_REQUEST;
        return IMR_REPLY_ERROR;
    }
    /* A request too long for this sensor's buffer is one it cannot honour: answered once, at
     * the fragment that did not fit (its remaining fragments are discarded silently). */
    if (ev->kind == IMR_ASM_DROPPED ||
        imr_decode_request(ev->type, ev->payload, ev->length, req) != IMR_OK) {
        *error_code = IMR_E_BAD_REQUEST;
        return IMR_REPLY_ERROR;
    }
    return IMR_REPLY_HANDLE;
}

/* ------------------------------------------------------------------------------ stored runs */

static const uint8_t block_sync[4] = {0xA5u, 0x5Au, 0xC3u, 0x3Cu};

int32_t imr_run_header_encode(const imr_run_header_t *h, uint8_t *out, size_t cap)
{
    int i;
    if (h->sample_rate_hz == 0 || !positive_finite(h->acc_lsb_ms2) ||
        !positive_finite(h->gyr_lsb_rads))
        return IMR_ERR_ARG;
    if (cap < IMR_RUN_HEADER_SIZE)
        return IMR_ERR_BUFFER;
    memcpy(out, "IMRN", 4);
    put_u16(out + 4, h->format_version);
    put_u16(out + 6, (uint16_t)IMR_RUN_HEADER_SIZE);
    put_u64(out + 8, h->device_id);
    put_u32(out + 16, h->run_id);
    put_u16(out + 20, h->boot_id);
    put_u16(out + 22, h->sample_rate_hz);
    put_u64(out + 24, h->start_unix_ms);
    put_u64(out + 32, h->start_device_time_us);
    out[40] = h->acc_range_g;
    out[41] = h->mounting_hint;
    put_u16(out + 42, h->gyr_range_dps);
    put_f32(out + 44, h->acc_lsb_ms2);
    put_f32(out + 48, h->gyr_lsb_rads);
    for (i = 0; i < 3; i++) {
        put_f32(out + 52 + 4 * i, h->acc_offset_ms2[i]);
        put_f32(out + 64 + 4 * i, h->acc_gain[i]);
        put_f32(out + 76 + 4 * i, h->gyr_offset_rads[i]);
    }
    out[88] = h->firmware[0];
    out[89] = h->firmware[1];
    out[90] = h->firmware[2];
    out[91] = 0;
    put_u32(out + 92, imr_crc32(0, out, IMR_RUN_HEADER_SIZE - 4u));
    return (int32_t)IMR_RUN_HEADER_SIZE;
}

int32_t imr_block_encode(uint8_t type, uint8_t flags, const uint8_t *payload, size_t len,
                         uint8_t *out, size_t cap)
{
    size_t total = IMR_BLOCK_OVERHEAD + len;
    if (len > IMR_MAX_BLOCK_PAYLOAD || (len && payload == NULL))
        return IMR_ERR_ARG;
    if (cap < total)
        return IMR_ERR_BUFFER;
    if (len)
        memmove(out + IMR_BLOCK_HEAD_SIZE, payload, len);
    memcpy(out, block_sync, 4);
    out[4] = type;
    out[5] = flags;
    put_u16(out + 6, (uint16_t)len);
    /* The CRC precedes the payload: were it last, the CRC-32 of a whole run file would depend
     * only on its block lengths (CRC residue property). */
    put_u32(out + 8, imr_crc32(imr_crc32(0, out + 4, 4), out + IMR_BLOCK_HEAD_SIZE, len));
    return (int32_t)total;
}

/* Residual i (0 <= i < n - 1) of channel ch, order 1 or 2, zigzag-mapped, all mod 2^16. */
static uint16_t residual_z(const int16_t *counts, size_t ch, size_t i, int order)
{
    const size_t s = IMR_SAMPLE_CHANNELS;
    uint16_t x0 = (uint16_t)counts[i * s + ch];
    uint16_t x1 = (uint16_t)counts[(i + 1) * s + ch];
    uint16_t r = (uint16_t)(x1 - x0);
    if (order == 2 && i > 0) {
        uint16_t xm = (uint16_t)counts[(i - 1) * s + ch];
        r = (uint16_t)(r - (uint16_t)(x0 - xm));
    }
    /* zigzag: (r << 1) ^ (r >> 15) with an arithmetic shift, written without signed shifts */
    return (uint16_t)((uint16_t)(r << 1) ^ (uint16_t)(0u - (unsigned)(r >> 15)));
}

static unsigned bit_length16(unsigned v)
{
    unsigned w = 0;
    while (v) {
        w++;
        v >>= 1;
    }
    return w;
}

/* Bit width of sub-block s of channel ch (zero padding beyond n - 1 residuals). */
static unsigned sub_width(const int16_t *counts, size_t n, size_t ch, size_t s, int order)
{
    unsigned m = 0;
    size_t i, end = (s + 1) * 32u;
    if (end > n - 1)
        end = n - 1;
    for (i = s * 32u; i < end; i++) {
        unsigned z = residual_z(counts, ch, i, order);
        if (z > m)
            m = z;
    }
    return bit_length16(m);
}

/* Packed data bytes (4 x sum of widths) of one channel with the given order. */
static size_t channel_bytes(const int16_t *counts, size_t n, size_t ch, int order)
{
    size_t s, n_sub = (n - 1 + 31) / 32, total = 0;
    for (s = 0; s < n_sub; s++)
        total += 4u * sub_width(counts, n, ch, s, order);
    return total;
}

/* Order (1 or 2) per channel as a bitmask, and the packed payload size. */
static size_t packed_plan(const int16_t *counts, size_t n, uint8_t *orders)
{
    size_t ch, n_sub = (n - 1 + 31) / 32, total = 27u + IMR_SAMPLE_CHANNELS * n_sub;
    *orders = 0;
    for (ch = 0; ch < IMR_SAMPLE_CHANNELS; ch++) {
        size_t b1 = channel_bytes(counts, n, ch, 1);
        size_t b2 = channel_bytes(counts, n, ch, 2);
        if (b2 < b1) {
            *orders = (uint8_t)(*orders | (1u << ch));
            total += b2;
        } else {
            total += b1;
        }
    }
    return total;
}

static int samples_args_ok(const int16_t *counts, size_t n)
{
    return counts != NULL && n >= 1 && n <= IMR_MAX_BLOCK_SAMPLES;
}

/* SPEC 5.2: a sample block time >= 2^63 is invalid (a reader discards the block). */
static int block_time_ok(uint64_t device_time_us)
{
    return device_time_us < (UINT64_C(1) << 63);
}

int32_t imr_samples_packed_size(const int16_t *counts, size_t n)
{
    uint8_t orders;
    if (!samples_args_ok(counts, n))
        return IMR_ERR_ARG;
    return (int32_t)packed_plan(counts, n, &orders);
}

static void sample_head(uint32_t first_sample_index, uint64_t device_time_us, size_t n,
                        uint8_t *out)
{
    put_u32(out, first_sample_index);
    put_u64(out + 4, device_time_us);
    put_u16(out + 12, (uint16_t)n);
}

/* Packed payload for a precomputed plan; out has room for `size` bytes. */
static void packed_write(const int16_t *counts, size_t n, uint32_t first_sample_index,
                         uint64_t device_time_us, uint8_t orders, uint8_t *out)
{
    size_t ch, s, n_sub = (n - 1 + 31) / 32;
    uint8_t *widths = out + 27;
    uint8_t *p = widths + IMR_SAMPLE_CHANNELS * n_sub;
    sample_head(first_sample_index, device_time_us, n, out);
    for (ch = 0; ch < IMR_SAMPLE_CHANNELS; ch++)
        put_i16(out + 14 + 2 * ch, counts[ch]);
    out[26] = orders;
    for (ch = 0; ch < IMR_SAMPLE_CHANNELS; ch++) {
        int order = (((unsigned)orders >> ch) & 1u) ? 2 : 1;
        for (s = 0; s < n_sub; s++)
            widths[ch * n_sub + s] = (uint8_t)sub_width(counts, n, ch, s, order);
    }
    for (ch = 0; ch < IMR_SAMPLE_CHANNELS; ch++) {
        int order = (((unsigned)orders >> ch) & 1u) ? 2 : 1;
        for (s = 0; s < n_sub; s++) {
            unsigned w = widths[ch * n_sub + s];
            uint32_t acc = 0;   /* bit accumulator, LSB first */
            unsigned bits = 0;  /* bits held in acc, < 8 between values */
            size_t j;
            if (w == 0)
                continue;
            for (j = 0; j < 32u; j++) {
                size_t i = s * 32u + j;
                uint32_t z = i < n - 1 ? residual_z(counts, ch, i, order) : 0u;
                acc |= z << bits;
                bits += w;
                while (bits >= 8) {
                    *p++ = (uint8_t)(acc & 0xFFu);
                    acc >>= 8;
                    bits -= 8;
                }
            }
        }
    }
}

int32_t imr_samples_packed_encode(const int16_t *counts, size_t n, uint32_t first_sample_index,
                                  uint64_t device_time_us, uint8_t *out, size_t cap)
{
    uint8_t orders;
    size_t size;
    if (!samples_args_ok(counts, n) || !block_time_ok(device_time_us))
        return IMR_ERR_ARG;
    size = packed_plan(counts, n, &orders);
    if (cap < size)
        return IMR_ERR_BUFFER;
    packed_write(counts, n, first_sample_index, device_time_us, orders, out);
    return (int32_t)size;
}

int32_t imr_samples_raw_encode(const int16_t *counts, size_t n, uint32_t first_sample_index,
                               uint64_t device_time_us, uint8_t *out, size_t cap)
{
    size_t i, size = 14u + 12u * n;
    if (!samples_args_ok(counts, n) || !block_time_ok(device_time_us))
        return IMR_ERR_ARG;
    if (cap < size)
        return IMR_ERR_BUFFER;
    sample_head(first_sample_index, device_time_us, n, out);
    for (i = 0; i < n * IMR_SAMPLE_CHANNELS; i++)
        put_i16(out + 14 + 2 * i, counts[i]);
    return (int32_t)size;
}

int32_t imr_block_samples(const int16_t *counts, size_t n, uint32_t first_sample_index,
                          uint64_t device_time_us, int allow_packed, uint8_t *out, size_t cap)
{
    size_t raw_size = 14u + 12u * n, size = raw_size;
    uint8_t orders = 0, type = IMR_BLOCK_SAMPLES_RAW;
    if (!samples_args_ok(counts, n) || !block_time_ok(device_time_us))
        return IMR_ERR_ARG;
    if (allow_packed) {
        size_t packed_size = packed_plan(counts, n, &orders);
        if (packed_size <= raw_size) {
            size = packed_size;
            type = IMR_BLOCK_SAMPLES_PACKED;
        }
    }
    if (cap < IMR_BLOCK_OVERHEAD + size)
        return IMR_ERR_BUFFER;
    if (type == IMR_BLOCK_SAMPLES_PACKED)
        packed_write(counts, n, first_sample_index, device_time_us, orders,
                     out + IMR_BLOCK_HEAD_SIZE);
    else
        (void)imr_samples_raw_encode(counts, n, first_sample_index, device_time_us,
                                     out + IMR_BLOCK_HEAD_SIZE, size);
    return imr_block_encode(type, 0, out + IMR_BLOCK_HEAD_SIZE, size, out, cap);
}

int32_t imr_block_event(uint8_t code, uint64_t device_time_us, uint32_t value, uint8_t *out,
                        size_t cap)
{
    uint8_t p[IMR_EVENT_SIZE];
    event_body(code, device_time_us, value, p);
    return imr_block_encode(IMR_BLOCK_EVENT, 0, p, sizeof p, out, cap);
}

int32_t imr_block_time(uint64_t device_time_us, uint64_t unix_ms, uint8_t *out, size_t cap)
{
    uint8_t p[16];
    put_u64(p, device_time_us);
    put_u64(p + 8, unix_ms);
    return imr_block_encode(IMR_BLOCK_TIME, 0, p, sizeof p, out, cap);
}

int32_t imr_block_samples_lost(uint32_t first_sample_index, uint32_t n, uint8_t *out, size_t cap)
{
    uint8_t p[8];
    put_u32(p, first_sample_index);
    put_u32(p + 4, n);
    return imr_block_encode(IMR_BLOCK_SAMPLES_LOST, 0, p, sizeof p, out, cap);
}

int32_t imr_block_end(uint32_t n_samples, uint8_t *out, size_t cap)
{
    uint8_t p[4];
    put_u32(p, n_samples);
    return imr_block_encode(IMR_BLOCK_END, 0, p, sizeof p, out, cap);
}

void imr_run_writer_init(imr_run_writer_t *w, int allow_packed)
{
    w->n_samples = 0;
    w->allow_packed = allow_packed ? 1u : 0u;
}

int32_t imr_run_write_samples(imr_run_writer_t *w, const int16_t *counts, size_t n,
                              uint64_t device_time_us, uint8_t *out, size_t cap)
{
    int32_t r = imr_block_samples(counts, n, w->n_samples, device_time_us, w->allow_packed, out,
                                  cap);
    if (r >= 0)
        w->n_samples += (uint32_t)n;
    return r;
}

uint64_t imr_sample_time_us(uint64_t t0_us, uint32_t k, uint16_t rate_hz)
{
    if (rate_hz == 0)
        return t0_us;
    /* 2 k 10^6 < 2^53: no overflow in 64 bits */
    return t0_us + (2u * (uint64_t)k * 1000000u + rate_hz) / (2u * (uint64_t)rate_hz);
}

int32_t imr_run_write_lost(imr_run_writer_t *w, uint32_t n, uint8_t *out, size_t cap)
{
    int32_t r = imr_block_samples_lost(w->n_samples, n, out, cap);
    if (r >= 0)
        w->n_samples += n;
    return r;
}

int32_t imr_run_write_end(const imr_run_writer_t *w, uint8_t *out, size_t cap)
{
    return imr_block_end(w->n_samples, out, cap);
}
