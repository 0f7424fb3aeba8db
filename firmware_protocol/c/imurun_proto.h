/*
 * imurun wire protocol v1: C99 reference implementation for the sensor firmware.
 *
 * The contract is firmware_protocol/SPEC.md; the Python package firmware_protocol/ generated
 * the golden byte vectors in firmware_protocol/vectors/, which this code reproduces.
 *
 * Design rules (what a Cortex-M firmware can embed as is):
 *   - C99, no dynamic allocation, no global mutable state, no I/O. The only statics are const
 *     tables (in flash): the two 16-entry CRC tables (32 + 64 bytes), the block sync word and
 *     the error names of imr_strerror().
 *   - All buffers are provided by the caller together with their capacity. Every function that
 *     writes returns the number of bytes written (>= 0) or a negative IMR_ERR_* code; nothing is
 *     ever written past `cap`. On error the output buffer content is unspecified.
 *   - Input is untrusted: decoders check every length field against the bytes present and against
 *     the protocol maxima before using it, and never read past a declared length.
 *   - Integers on the wire are little-endian; the code works on any host endianness. Floats are
 *     assumed to be IEEE-754 binary32 (checked at compile time for size only).
 *
 * Layers, bottom to top:
 *   CRCs, COBS  ->  frames (encode, decode, stream form)  ->  sender (seq counter, fragmentation)
 *   -> message payload encoders (sensor -> host)  /  request decoder (host -> sensor)
 *   -> stream receiver (COBS byte stream -> frames) -> assembler (seq/boot tracking, reassembly)
 *   -> stored-run writer (header, blocks, packed samples).
 */
#ifndef IMURUN_PROTO_H
#define IMURUN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------ constants */

#define IMR_PROTOCOL_VERSION 1u

#define IMR_FRAME_HEADER_SIZE 9u
#define IMR_FRAME_CRC_SIZE 2u
#define IMR_FRAME_OVERHEAD 11u                   /* header + CRC */
#define IMR_MAX_FRAME_PAYLOAD 1024u
#define IMR_MAX_FRAME_SIZE (IMR_FRAME_OVERHEAD + IMR_MAX_FRAME_PAYLOAD) /* 1035 */
#define IMR_MAX_MESSAGE_SIZE 65536ul             /* largest reassembled message */
#define IMR_FLAG_MORE 0x01u                      /* frame flags bit 0: more fragments follow */
#define IMR_FLAG_CONT 0x02u                      /* frame flags bit 1: continues a message */

/* Largest COBS encoding of n bytes (delimiter excluded). */
#define IMR_COBS_MAX(n) ((n) + (n) / 254u + 1u)
/* Largest encoded frame on a byte stream, delimiter excluded (1040) and included (1041). */
#define IMR_MAX_ENCODED_FRAME IMR_COBS_MAX(IMR_MAX_FRAME_SIZE)
#define IMR_MAX_STREAM_FRAME (IMR_MAX_ENCODED_FRAME + 1u)
/* Bytes needed to hold frame / stream form of a frame with a payload of n bytes. */
#define IMR_FRAME_SIZE(n) (IMR_FRAME_OVERHEAD + (n))
#define IMR_STREAM_FRAME_SIZE(n) (IMR_COBS_MAX(IMR_FRAME_OVERHEAD + (n)) + 1u)

#define IMR_SAMPLE_CHANNELS 6u                   /* acc x, y, z, gyr x, y, z */
#define IMR_MAX_NAME_BYTES 32u
#define IMR_MAX_TEXT_BYTES 200u
#define IMR_MAX_CONFIG_VALUE 64u

/* Message payload sizes (bytes). */
#define IMR_DEVICE_INFO_SIZE(name_len) (27u + (name_len))
#define IMR_DEVICE_INFO_MAX IMR_DEVICE_INFO_SIZE(IMR_MAX_NAME_BYTES) /* 59 */
#define IMR_SAMPLE_BATCH_SIZE(n) (14u + 12u * (n))
/* Largest SAMPLE_BATCH (SPEC §1: a message is at most 65,536 bytes): 14 + 12 n <= 65536. */
#define IMR_MAX_BATCH_SAMPLES 5460u
#define IMR_TIME_SYNC_SIZE 16u
#define IMR_STATUS_SIZE 22u
#define IMR_CATALOGUE_SIZE(count) (2u + 20u * (count))
/* Most runs one CATALOGUE can list (2 + 20 count <= 65536). */
#define IMR_MAX_CATALOGUE_RUNS 3276u
#define IMR_RUN_CHUNK_SIZE(data_len) (12u + (data_len))
#define IMR_RUN_CHUNK_MAX_DATA (IMR_MAX_FRAME_PAYLOAD - 12u) /* 1012: one chunk per frame */
#define IMR_RUN_ERASED_SIZE 4u
#define IMR_CONFIG_VALUE_MAX (1u + IMR_MAX_CONFIG_VALUE)
#define IMR_EVENT_SIZE 13u
#define IMR_ACK_SIZE 1u
#define IMR_ERROR_SIZE(text_len) (3u + (text_len))

/* Stored-run format. */
#define IMR_RUN_FORMAT_VERSION 1u
#define IMR_RUN_HEADER_SIZE 96u
#define IMR_BLOCK_HEAD_SIZE 12u                  /* sync, type, flags, length, CRC-32; payload follows */
#define IMR_BLOCK_OVERHEAD 12u                   /* all of it is the head */
#define IMR_MAX_BLOCK_PAYLOAD 16384u
#define IMR_MAX_BLOCK_SAMPLES 1024u
/* A complete sample block for n samples never exceeds this (raw size; packed is used only
 * when it is not longer). 12 + 14 + 12 n; 12314 bytes for n = 1024. */
#define IMR_SAMPLES_BLOCK_MAX(n) (IMR_BLOCK_OVERHEAD + 14u + 12u * (n))

/* ------------------------------------------------------------------------------ errors */

enum {
    IMR_OK = 0,
    IMR_ERR_BUFFER = -1,      /* output buffer (or receiver/assembler buffer) too small */
    IMR_ERR_ARG = -2,         /* argument out of range (the Python encoder raises likewise) */
    IMR_ERR_SHORT = -3,       /* frame shorter than the 11-byte minimum */
    IMR_ERR_TOO_LONG = -4,    /* declared payload length > 1024 */
    IMR_ERR_LENGTH = -5,      /* frame size != header length + 11 */
    IMR_ERR_CRC = -6,         /* CRC mismatch */
    IMR_ERR_VERSION = -7,     /* protocol version 0 */
    IMR_ERR_COBS = -8,        /* invalid COBS encoding */
    IMR_ERR_OVERFLOW = -9,    /* no delimiter within the receiver's buffer */
    IMR_ERR_TOO_LARGE = -10,  /* reassembled message exceeds the assembler's buffer */
    IMR_ERR_MALFORMED = -11,  /* payload shorter than the fields its type requires */
    IMR_ERR_NOT_REQUEST = -12 /* type is not a host -> sensor request */
};

/* Short constant name of an IMR_ERR_* code ("crc", "cobs", ...); "?" when unknown. */
const char *imr_strerror(int32_t err);

/* ------------------------------------------------------------------------------ types */

enum imr_msg_type {
    IMR_DEVICE_INFO_REQUEST = 0x01,
    IMR_DEVICE_INFO = 0x02,
    IMR_SAMPLE_BATCH = 0x10,
    IMR_TIME_SYNC_REQUEST = 0x11,
    IMR_TIME_SYNC = 0x12,
    IMR_STATUS_REQUEST = 0x13,
    IMR_STATUS = 0x14,
    IMR_CATALOGUE_REQUEST = 0x20,
    IMR_CATALOGUE = 0x21,
    IMR_RUN_READ = 0x22,
    IMR_RUN_CHUNK = 0x23,
    IMR_RUN_ERASE = 0x25,
    IMR_RUN_ERASED = 0x26,
    IMR_CONFIG_GET = 0x30,
    IMR_CONFIG_SET = 0x31,
    IMR_CONFIG_VALUE = 0x32,
    IMR_STREAM_START = 0x40,
    IMR_STREAM_STOP = 0x41,
    IMR_RECORD_START = 0x42,
    IMR_RECORD_STOP = 0x43,
    IMR_EVENT = 0x50,
    IMR_ACK = 0x7E,
    IMR_ERROR = 0x7F
};

/* Values of message fields (SPEC §3). */
enum imr_event_code {
    IMR_EVENT_BUTTON = 1,
    IMR_EVENT_LOW_BATTERY = 2,
    IMR_EVENT_STORAGE_FULL = 3,
    IMR_EVENT_RECORDING_STARTED = 4,
    IMR_EVENT_RECORDING_STOPPED = 5,
    IMR_EVENT_BOOT = 6,
    IMR_EVENT_STREAM_ENDED = 7      /* the sensor stopped streaming on its own */
};

enum imr_error_code {
    IMR_E_UNKNOWN_REQUEST = 1,
    IMR_E_BAD_REQUEST = 2,
    IMR_E_UNKNOWN_RUN = 3,
    IMR_E_OUT_OF_RANGE = 4,
    IMR_E_ERASE_REFUSED = 5,
    IMR_E_BUSY = 6,
    IMR_E_STORAGE_FULL = 7,
    IMR_E_INVALID_CONFIG = 8,
    IMR_E_INTERNAL = 9
};

enum imr_config_key {
    IMR_CFG_SAMPLE_RATE_HZ = 1,     /* u16 */
    IMR_CFG_ACC_RANGE_G = 2,        /* u8 */
    IMR_CFG_GYR_RANGE_DPS = 3,      /* u16 */
    IMR_CFG_DEVICE_NAME = 4,        /* UTF-8, <= 32 bytes */
    IMR_CFG_AUTO_RECORD = 5,        /* u8 (0/1) */
    IMR_CFG_RTC_UNIX_MS = 6         /* u64: sets the sensor's wall clock */
};

enum imr_state { IMR_STATE_IDLE = 0, IMR_STATE_RECORDING = 1, IMR_STATE_STREAMING = 2,
                 IMR_STATE_SYNCING = 3 };

enum imr_mounting_hint { IMR_MOUNT_UNKNOWN = 0, IMR_MOUNT_SACRUM_CLIP = 1,
                         IMR_MOUNT_SACRUM_BELT = 2 };

enum imr_block_type {
    IMR_BLOCK_SAMPLES_RAW = 0x01,
    IMR_BLOCK_SAMPLES_PACKED = 0x02,
    IMR_BLOCK_EVENT = 0x10,
    IMR_BLOCK_TIME = 0x11,
    IMR_BLOCK_SAMPLES_LOST = 0x12,
    IMR_BLOCK_END = 0xFE
};

/* ------------------------------------------------------------------------------ CRCs */

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR).
 * Start with crc = IMR_CRC16_INIT; pass the previous result to continue over more data.
 * Check value over "123456789": 0x29B1. Nibble-table implementation (16 x u16 in flash). */
#define IMR_CRC16_INIT 0xFFFFu
uint16_t imr_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* CRC-32 (ISO-HDLC, as zlib/PNG: reflected poly 0xEDB88320, init and final XOR 0xFFFFFFFF).
 * zlib convention: start with crc = 0 and pass the previous result to continue, so
 * imr_crc32(imr_crc32(0, a, na), b, nb) == CRC of a||b. Check value: 0xCBF43926.
 * Nibble-table implementation (16 x u32 in flash). */
uint32_t imr_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* ------------------------------------------------------------------------------ COBS */

/* COBS-encode len bytes (no delimiter appended). Needs cap >= IMR_COBS_MAX(len).
 * Output is canonical: a full 254-byte group at the very end is not followed by a 0x01. */
int32_t imr_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* COBS-decode len bytes (no delimiter). Decoding in place (out == in) is allowed; the output is
 * never longer than the input. Returns the decoded length or IMR_ERR_COBS (a zero byte in the
 * input, or a code byte pointing past the end) / IMR_ERR_BUFFER. */
int32_t imr_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* ------------------------------------------------------------------------------ frames */

typedef struct {
    uint8_t version;        /* 1 for this protocol; 0 is invalid */
    uint8_t type;           /* enum imr_msg_type (or any byte) */
    uint8_t flags;          /* IMR_FLAG_MORE; reserved bits are sent as given, ignored on receipt */
    uint16_t seq;
    uint16_t boot_id;
    uint16_t length;        /* payload length, 0..1024 */
    const uint8_t *payload; /* decode: points into the decoded buffer */
} imr_frame_t;

/* Frame bytes (header, payload, CRC-16). Needs cap >= IMR_FRAME_SIZE(length).
 * IMR_ERR_ARG when version == 0 or length > 1024. */
int32_t imr_frame_encode(const imr_frame_t *f, uint8_t *out, size_t cap);

/* The byte-stream form: COBS(frame) followed by one 0x00. No intermediate buffer is used.
 * Needs cap >= IMR_STREAM_FRAME_SIZE(length) (at most IMR_MAX_STREAM_FRAME = 1041). */
int32_t imr_frame_encode_stream(const imr_frame_t *f, uint8_t *out, size_t cap);

/* Check and split one whole (unencoded) frame. Checks, in this order (as Python and SPEC §4):
 * len >= 11 (IMR_ERR_SHORT), length field <= 1024 (IMR_ERR_TOO_LONG), len == 11 + length
 * (IMR_ERR_LENGTH), CRC (IMR_ERR_CRC), version != 0 (IMR_ERR_VERSION). On success f->payload
 * points into data. Returns IMR_OK or the error. */
int32_t imr_frame_decode(const uint8_t *data, size_t len, imr_frame_t *f);

/* ------------------------------------------------------------------------------ sender */

/* One sender's frame counter. Sensor: boot_id from flash (changes on every restart). */
typedef struct {
    uint16_t seq;       /* seq of the next frame; +1 per frame, wraps 65535 -> 0 */
    uint16_t boot_id;
    uint8_t version;    /* IMR_PROTOCOL_VERSION */
} imr_tx_t;

void imr_tx_init(imr_tx_t *tx, uint16_t boot_id, uint16_t first_seq);

/* Fragmentation by the continuation rule: a message body is cut into frames of at most
 * max_payload bytes (1..1024; over BLE: ATT_MTU - 3 - 11), MORE set on all but the last, each
 * frame taking the next seq. An empty body is one empty frame. Usage:
 *
 *     imr_frag_t it;
 *     imr_frag_init(&it, IMR_CATALOGUE, body, body_len, 1024);
 *     while ((n = imr_frag_next(&it, &tx, 1, out, sizeof out)) > 0) uart_write(out, n);
 *
 * `body` must stay valid until the last fragment is produced. */
typedef struct {
    const uint8_t *body;
    size_t len;
    size_t pos;
    uint16_t max_payload;
    uint8_t type;
    uint8_t done;
} imr_frag_t;

/* IMR_ERR_ARG when max_payload is not 1..1024 or len > IMR_MAX_MESSAGE_SIZE. */
int32_t imr_frag_init(imr_frag_t *it, uint8_t type, const uint8_t *body, size_t len,
                      size_t max_payload);
/* Next frame into out: stream != 0 -> COBS form with delimiter, else the bare frame (one BLE
 * notification). Returns its length, 0 when all fragments were produced, or an error (the
 * sender's seq and the iterator do not advance on error). */
int32_t imr_frag_next(imr_frag_t *it, imr_tx_t *tx, int stream, uint8_t *out, size_t cap);

/* ------------------------------------------------------------------------------ messages, sensor -> host */
/* Each encoder writes the message payload (body) and returns its length. Range checks follow
 * the Python encoder: they return IMR_ERR_ARG where firmware_protocol.messages raises. */

typedef struct {
    uint64_t device_id;
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t protocol_version;
    uint16_t sample_rate_hz;     /* >= 1 */
    uint8_t acc_range_g;         /* >= 1 */
    uint16_t gyr_range_dps;      /* >= 1 */
    float acc_lsb_ms2;           /* > 0, finite */
    float gyr_lsb_rads;          /* > 0, finite */
    uint8_t mounting_hint;
    const uint8_t *name;         /* UTF-8, not terminated */
    uint8_t name_len;            /* <= 32 */
} imr_device_info_t;
int32_t imr_enc_device_info(const imr_device_info_t *m, uint8_t *out, size_t cap);

/* counts: n samples x 6 int16 (acc x y z, gyr x y z), row-major. n <= IMR_MAX_BATCH_SAMPLES
 * (5460: the message bound of SPEC §1; IMR_ERR_ARG above), and the body is fragmented above
 * 1024 bytes: the live stream sends 10 samples per batch. */
int32_t imr_enc_sample_batch(uint64_t device_time_us, uint32_t sample_counter,
                             const int16_t *counts, size_t n, uint8_t *out, size_t cap);

int32_t imr_enc_time_sync(uint64_t host_time_us, uint64_t device_time_us, uint8_t *out,
                          size_t cap);

typedef struct {
    uint8_t battery_pct;         /* 0..100 */
    uint16_t battery_mv;
    uint32_t storage_used_bytes;
    uint32_t storage_free_bytes;
    uint8_t state;               /* 0 idle, 1 recording, 2 streaming, 3 syncing */
    uint16_t n_runs;
    uint64_t device_time_us;
} imr_status_t;
int32_t imr_enc_status(const imr_status_t *m, uint8_t *out, size_t cap);

typedef struct {
    uint32_t run_id;
    uint64_t start_unix_ms;
    uint32_t size;
    uint32_t crc32;              /* of the run's whole file */
} imr_run_entry_t;
/* count <= IMR_MAX_CATALOGUE_RUNS (3276: the message bound of SPEC §1; IMR_ERR_ARG above);
 * a body above 1024 bytes (52+ runs) must be fragmented. */
int32_t imr_enc_catalogue(const imr_run_entry_t *runs, size_t count, uint8_t *out, size_t cap);

/* RUN_CHUNK: computes the CRC-32 of data itself. data may already sit at out + 12 (in place).
 * len <= 65524 (the message bound less the 12-byte chunk header). */
int32_t imr_enc_run_chunk(uint32_t run_id, uint32_t offset, const uint8_t *data, size_t len,
                          uint8_t *out, size_t cap);
int32_t imr_enc_run_erased(uint32_t run_id, uint8_t *out, size_t cap);
/* value_len <= 64 */
int32_t imr_enc_config_value(uint8_t key, const uint8_t *value, size_t value_len, uint8_t *out,
                             size_t cap);
int32_t imr_enc_event(uint8_t code, uint64_t device_time_us, uint32_t value, uint8_t *out,
                      size_t cap);
int32_t imr_enc_ack(uint8_t request_type, uint8_t *out, size_t cap);
/* text: UTF-8 (checked), text_len <= 200 */
int32_t imr_enc_error(uint16_t code, uint8_t request_type, const uint8_t *text, size_t text_len,
                      uint8_t *out, size_t cap);

/* 1 when s is well-formed UTF-8 (as Python's strict decoder: no overlongs, no surrogates,
 * nothing above U+10FFFF), else 0. */
int imr_utf8_valid(const uint8_t *s, size_t len);

/* ------------------------------------------------------------------------------ requests, host -> sensor */

typedef struct {
    uint8_t type;                /* enum imr_msg_type: one of the 12 request types */
    union {
        struct { uint64_t host_time_us; } time_sync;                 /* TIME_SYNC_REQUEST */
        struct { uint32_t run_id, offset, length; } run_read;        /* RUN_READ */
        struct { uint32_t run_id, crc32; } run_erase;                /* RUN_ERASE */
        struct { uint8_t key; } config_get;                          /* CONFIG_GET */
        struct {                                                     /* CONFIG_SET */
            uint8_t key;
            uint8_t value_len;   /* <= 64: a longer value is IMR_ERR_MALFORMED (SPEC: CONFIG_SET) */
            uint8_t value[IMR_MAX_CONFIG_VALUE];
        } config_set;
    } u;                         /* nothing for the empty requests */
} imr_request_t;

/* 1 for the 12 host -> sensor request types, else 0. */
int imr_is_request(uint8_t type);

/* Decode a (reassembled) request payload. Trailing bytes after the defined fields are ignored
 * (versioning rule). Returns IMR_OK, IMR_ERR_MALFORMED (too short: drop it, or answer ERROR 2),
 * IMR_ERR_NOT_REQUEST (answer ERROR 1 "unknown request"). */
int32_t imr_decode_request(uint8_t type, const uint8_t *payload, size_t len, imr_request_t *req);

/* ------------------------------------------------------------------------------ stream receiver */

/* Incremental COBS byte-stream receiver (USB serial, UART). State = one caller-provided buffer
 * holding the unfinished encoded frame. Bytes are decoded in place, so the buffer needs
 * IMR_MAX_ENCODED_FRAME (1040) bytes to accept every legal frame; a smaller buffer works and
 * reports longer frames as IMR_ERR_OVERFLOW. A run of bytes longer than the buffer without a
 * 0x00 is dropped (one event) and the receiver resynchronises at the next 0x00; empty frames
 * (0x00 0x00) are ignored. Offsets count bytes since imr_rx_init (mod 2^32). */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint32_t offset;      /* stream offset of the next byte */
    uint32_t start;       /* stream offset of buf[0] */
    uint8_t overflow;     /* discarding until the next 0x00 */
    uint32_t frames_ok;
    uint32_t frames_corrupt;
} imr_rx_t;

enum imr_rx_kind { IMR_RX_NONE = 0, IMR_RX_FRAME = 1, IMR_RX_DROPPED = 2 };

typedef struct {
    int kind;              /* enum imr_rx_kind */
    imr_frame_t frame;     /* IMR_RX_FRAME: payload points into rx->buf, valid until next feed */
    int32_t error;         /* IMR_RX_DROPPED: IMR_ERR_OVERFLOW/COBS/SHORT/TOO_LONG/LENGTH/CRC/VERSION */
    uint32_t offset;       /* stream offset of the frame's (or dropped run's) first byte */
    uint32_t n_bytes;      /* bytes it spanned, delimiter included (overflow: bytes held + 1) */
} imr_rx_event_t;

void imr_rx_init(imr_rx_t *rx, uint8_t *buf, size_t cap);

/* Consume bytes from data until one event occurs or data is exhausted; return the number of
 * bytes consumed (always >= 1 when len > 0). ev->kind says whether a frame or a drop came out.
 * Feed a chunk with:
 *     while (len) { size_t k = imr_rx_feed(&rx, p, len, &ev); p += k; len -= k; handle(&ev); }
 * The outcome does not depend on how the stream is chunked. */
size_t imr_rx_feed(imr_rx_t *rx, const uint8_t *data, size_t len, imr_rx_event_t *ev);

/* ------------------------------------------------------------------------------ assembler */

/* Link-independent state (as Python's FrameAssembler): boot_id / seq tracking and reassembly
 * of fragmented messages into a caller buffer. Give it frames from imr_rx_feed (serial) or from
 * imr_frame_decode on each BLE write. A firmware only ever needs a buffer for the longest
 * request it accepts (CONFIG_SET: 65 bytes; more to allow trailing fields of newer hosts);
 * a longer message is dropped with IMR_ERR_TOO_LARGE (Python's bound: 65536). A continuation
 * fragment (IMR_FLAG_CONT) with no message in progress -- its start was lost or dropped -- is
 * discarded. A frame repeating the previous seq is a duplicate delivery and is ignored. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint16_t boot_id;
    uint16_t last_seq;
    uint8_t has_boot;
    uint8_t has_seq;
    uint8_t frag_active;
    uint8_t frag_type;
    uint32_t frag_frames;
    /* running totals */
    uint32_t frames_lost;
    uint32_t fragments_discarded;
    uint32_t frames_duplicate;
    uint32_t reboots;
    uint32_t messages;
} imr_asm_t;

enum imr_asm_kind { IMR_ASM_NONE = 0, IMR_ASM_MESSAGE = 1, IMR_ASM_DROPPED = 2 };

typedef struct {
    /* what happened before the frame was used (at most one of the two) */
    uint8_t rebooted;          /* boot_id changed: old_boot_id -> frame's boot_id */
    uint16_t old_boot_id;
    uint16_t lost;             /* frames missing before this one (same boot_id) */
    /* what the frame completed */
    int kind;                  /* enum imr_asm_kind; NONE: a fragment was stored */
    int32_t error;             /* IMR_ASM_DROPPED: IMR_ERR_TOO_LARGE */
    uint8_t type;              /* IMR_ASM_MESSAGE: the message */
    uint8_t version;
    uint16_t seq;              /* of its last frame */
    uint16_t boot_id;
    uint32_t n_frames;
    const uint8_t *payload;    /* into the frame (single) or the assembler buffer (fragments) */
    size_t length;
} imr_asm_event_t;

void imr_asm_init(imr_asm_t *a, uint8_t *buf, size_t cap);
/* Push one intact frame (from imr_frame_decode / imr_rx_feed). */
void imr_asm_push(imr_asm_t *a, const imr_frame_t *f, imr_asm_event_t *ev);

/* What the sensor does with an assembler event (SPEC §2 "Versioning"): every request gets an
 * answer, so a host never waits for one that cannot come. */
enum imr_reply_kind {
    IMR_REPLY_NONE = 0,    /* nothing: a fragment was stored, or the frame belonged to nothing */
    IMR_REPLY_HANDLE = 1,  /* *req holds the decoded request: serve it */
    IMR_REPLY_ERROR = 2    /* answer ERROR *error_code naming ev->type: 1 unknown request (not a
                            * request type), 2 bad request (malformed, or longer than the
                            * assembler's buffer: IMR_ASM_DROPPED with IMR_ERR_TOO_LARGE) */
};
int imr_reply_for(const imr_asm_event_t *ev, imr_request_t *req, uint16_t *error_code);

/* ------------------------------------------------------------------------------ stored runs */

typedef struct {
    uint16_t format_version;     /* IMR_RUN_FORMAT_VERSION */
    uint64_t device_id;
    uint32_t run_id;
    uint16_t boot_id;
    uint16_t sample_rate_hz;     /* >= 1 */
    uint64_t start_unix_ms;      /* 0 if unknown */
    uint64_t start_device_time_us;
    uint8_t acc_range_g;
    uint8_t mounting_hint;
    uint16_t gyr_range_dps;
    float acc_lsb_ms2;           /* > 0, finite */
    float gyr_lsb_rads;          /* > 0, finite */
    float acc_offset_ms2[3];
    float acc_gain[3];
    float gyr_offset_rads[3];
    uint8_t firmware[3];         /* major, minor, patch */
} imr_run_header_t;

/* The 96-byte run header with its CRC-32. */
int32_t imr_run_header_encode(const imr_run_header_t *h, uint8_t *out, size_t cap);

/* A complete block: sync A5 5A C3 3C, type, flags, length, CRC-32 over type..length then payload, payload.
 * payload may already sit at out + IMR_BLOCK_HEAD_SIZE (in place). len <= 16384. */
int32_t imr_block_encode(uint8_t type, uint8_t flags, const uint8_t *payload, size_t len,
                         uint8_t *out, size_t cap);

/* Payload of a SAMPLES_PACKED block (SPEC §5.3) for n (1..1024) samples x 6 channels int16,
 * row-major: per channel order 1 or 2 (the smaller packing, ties -> 1), zigzag, 32-value
 * sub-blocks, LSB-first bit packing. No scratch memory: residuals are recomputed on the fly.
 * Its size is imr_samples_packed_size(). The sample encoders below return IMR_ERR_ARG for a
 * device_time_us >= 2^63, which SPEC §5.2 makes invalid (a reader discards such a block). */
int32_t imr_samples_packed_size(const int16_t *counts, size_t n);
int32_t imr_samples_packed_encode(const int16_t *counts, size_t n, uint32_t first_sample_index,
                                  uint64_t device_time_us, uint8_t *out, size_t cap);
/* Payload of a SAMPLES_RAW block: 14 + 12 n bytes. */
int32_t imr_samples_raw_encode(const int16_t *counts, size_t n, uint32_t first_sample_index,
                               uint64_t device_time_us, uint8_t *out, size_t cap);
/* A complete sample block exactly as Python's runfile.encode_samples_block: SAMPLES_PACKED when
 * allow_packed and the packed payload is not longer than raw, else SAMPLES_RAW.
 * cap >= IMR_SAMPLES_BLOCK_MAX(n) always suffices. */
int32_t imr_block_samples(const int16_t *counts, size_t n, uint32_t first_sample_index,
                          uint64_t device_time_us, int allow_packed, uint8_t *out, size_t cap);
/* The small blocks (payload sizes 13, 16, 8, 4). */
int32_t imr_block_event(uint8_t code, uint64_t device_time_us, uint32_t value, uint8_t *out,
                        size_t cap);
int32_t imr_block_time(uint64_t device_time_us, uint64_t unix_ms, uint8_t *out, size_t cap);
int32_t imr_block_samples_lost(uint32_t first_sample_index, uint32_t n, uint8_t *out, size_t cap);
int32_t imr_block_end(uint32_t n_samples, uint8_t *out, size_t cap);

/* Run writer: the one piece of state a run needs, the index of the next sample. Blocks are
 * produced one at a time for the caller to append to flash; the caller keeps the whole-file
 * CRC-32 for the catalogue with imr_crc32(file_crc, block, len). Sample buffering (how many
 * samples per block, 256 by default in Python's RunWriter) is the caller's policy. */
typedef struct {
    uint32_t n_samples;
    uint8_t allow_packed;
} imr_run_writer_t;

void imr_run_writer_init(imr_run_writer_t *w, int allow_packed);
/* A sample block whose first sample index is w->n_samples; advances it by n. device_time_us is
 * the sensor clock of the block's first sample. */
int32_t imr_run_write_samples(imr_run_writer_t *w, const int16_t *counts, size_t n,
                              uint64_t device_time_us, uint8_t *out, size_t cap);
/* Device time of the sample k places after one taken at t0_us at rate_hz (SPEC §5.2):
 * t0_us + k * 10^6 / rate_hz rounded half up, in integers. For a block that begins k samples
 * into a batch whose first sample time alone is known (an IMU FIFO read split across blocks),
 * as Python's RunWriter.samples does. rate_hz 0 (invalid) gives t0_us. */
uint64_t imr_sample_time_us(uint64_t t0_us, uint32_t k, uint16_t rate_hz);
/* SAMPLES_LOST(w->n_samples, n); advances the index by n (the lost samples keep their slots). */
int32_t imr_run_write_lost(imr_run_writer_t *w, uint32_t n, uint8_t *out, size_t cap);
/* END(w->n_samples): the run was closed cleanly. */
int32_t imr_run_write_end(const imr_run_writer_t *w, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* IMURUN_PROTO_H */
