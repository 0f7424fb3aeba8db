/*
 * vector_tool: drives the C reference implementation from a line-oriented description on stdin
 * and prints hex on stdout, so tests can compare it byte for byte with the Python codec.
 *
 * Every input line gives exactly one output line. Numbers are decimal; byte strings are hex,
 * "-" for an empty one. Errors print "err <name>" (e.g. "err arg"); an unparsable line prints
 * "bad <command>".
 *
 *   crc16 <hex>                         -> 4 hex digits
 *   crc32 <hex>                         -> 8 hex digits
 *   cobs <hex>                          -> COBS encoding (no delimiter)
 *   uncobs <hex>                        -> decoded bytes
 *   frame <ver> <type> <flags> <seq> <boot> <payload>   -> frame bytes
 *   stream <ver> <type> <flags> <seq> <boot> <payload>  -> COBS(frame) 00
 *   frag <stream|packet> <ver> <boot> <seq> <type> <max_payload> <body>
 *                                       -> packet: one hex string per frame, space separated;
 *                                          stream: the byte stream (all frames, COBS + 00 each)
 *   msg device_info <device_id> <major> <minor> <patch> <proto> <rate_hz> <acc_range_g>
 *       <gyr_range_dps> <acc_lsb_ms2> <gyr_lsb_rads> <mounting_hint> <name>
 *   msg sample_batch <device_time_us> <sample_counter> <counts: int16 LE, row-major>
 *   msg time_sync <host_time_us> <device_time_us>
 *   msg status <pct> <mv> <used> <free> <state> <n_runs> <device_time_us>
 *   msg catalogue <count> {<run_id> <start_unix_ms> <size> <crc32>}*
 *   msg run_chunk <run_id> <offset> <data>
 *   msg run_erased <run_id>
 *   msg config_value <key> <value>
 *   msg event <code> <device_time_us> <value>
 *   msg ack <request_type>
 *   msg error <code> <request_type> <text utf-8>
 *                                       -> message payload
 *   req <type> <payload>                -> "<name> <fields...>" (config_set: key, value hex)
 *   rx <rx_cap> <asm_cap> <chunks> <stream bytes>
 *       COBS stream receiver + assembler. chunks: "0" = all at once, else comma-separated chunk
 *       sizes used cyclically (e.g. "1" = one byte at a time).
 *   pkt <asm_cap> <packet>,<packet>,... one frame per packet (BLE) + assembler
 *       -> events joined by " ; ", "-" when none:
 *            R t=<type> s=<seq> b=<boot> v=<ver> f=<n_frames> p=<payload>  (requests:
 *              payload re-encoded from the decoded fields, so trailing bytes are gone)
 *            D k=<kind> o=<offset> n=<n_bytes>   L n=<lost> s=<seq> b=<boot>   B o=<old> n=<new>
 *   answer <asm_cap> <packet>,<packet>,...   as pkt, but what the sensor answers (imr_reply_for):
 *            H t=<type> (serve the request)   E c=<error code> t=<type> (answer ERROR)
 *   runheader <format_version> <device_id> <run_id> <boot_id> <rate_hz> <start_unix_ms>
 *       <start_device_time_us> <acc_range_g> <mounting_hint> <gyr_range_dps> <acc_lsb_ms2>
 *       <gyr_lsb_rads> <acc_offset x3> <acc_gain x3> <gyr_offset x3> <major> <minor> <patch>
 *                                       -> 96 header bytes
 *   block <type> <flags> <payload>      -> block bytes
 *   samples <auto|raw> <first_index> <device_time_us> <counts>  -> sample block
 *   packed <first_index> <device_time_us> <counts>              -> SAMPLES_PACKED payload only
 *   run_begin <auto|raw> <runheader fields>   -> header; starts a run writer
 *   run_samples <device_time_us> <counts> | run_event <code> <t> <value> |
 *   run_time <device_time_us> <unix_ms> | run_lost <n> | run_end    -> block bytes
 *   run_batch <rate_hz> <block_samples> <device_time_us> <counts>
 *       a batch whose first sample was taken at device_time_us, cut into blocks of
 *       block_samples as a firmware does, each block timed by imr_sample_time_us -> the blocks
 *
 * Build: cc -std=c99 -O2 imurun_proto.c vector_tool.c -o vector_tool
 * This program is test tooling: it uses large static buffers and stdio, unlike the library.
 */
#include "imurun_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES (8u << 20)
#define BIN_MAX (LINE_MAX_BYTES / 2u)

static char line[LINE_MAX_BYTES];
static uint8_t bin[BIN_MAX];          /* decoded hex argument */
/* Encoder output: a fresh heap block of exactly `ocap` bytes per line, so AddressSanitizer
 * catches any write past the capacity a function was given ("cap <n>" sets it). */
static uint8_t *out;
static size_t ocap;
static size_t cap_setting = BIN_MAX + 4096u;
static int16_t counts[BIN_MAX / 2u];
static imr_run_entry_t entries[4096];
#define RX_CAP_MAX (1u << 17)
static char evtext[LINE_MAX_BYTES];

static imr_run_writer_t writer;

static char *tok(void) { return strtok(NULL, " \t\r\n"); }

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return 0;
    *v = strtoull(s, &end, 10);
    return *end == '\0';
}

static int parse_uint(const char *s, uint64_t max, uint64_t *v)
{
    return parse_u64(s, v) && *v <= max;
}

static int parse_float(const char *s, float *v)
{
    char *end;
    double d;
    if (s == NULL || *s == '\0')
        return 0;
    d = strtod(s, &end);
    *v = (float)d; /* round to nearest binary32, as Python's struct.pack("f") */
    return *end == '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex (or "-") into dst; returns length or -1. */
static long parse_hex(const char *s, uint8_t *dst, size_t cap)
{
    size_t n, i;
    if (s == NULL)
        return -1;
    if (strcmp(s, "-") == 0)
        return 0;
    n = strlen(s);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        dst[i] = (uint8_t)(hi * 16 + lo);
    }
    return (long)(n / 2);
}

/* An exact-size heap copy of n bytes (so reads past n are caught by AddressSanitizer). */
static uint8_t *heap_copy(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1u);
    if (q == NULL) {
        fputs("out of memory\n", stderr);
        exit(2);
    }
    if (n)
        memcpy(q, p, n);
    return q;
}

/* int16 LE bytes -> counts; returns the number of samples (rows of 6) or -1. */
static long parse_counts(const char *s)
{
    long n = parse_hex(s, bin, BIN_MAX), i;
    if (n < 0 || n % 12)
        return -1;
    for (i = 0; i < n / 2; i++)
        counts[i] = (int16_t)(uint16_t)(bin[2 * i] | (bin[2 * i + 1] << 8));
    return n / 12;
}

static void print_hex(const uint8_t *p, size_t n)
{
    size_t i;
    if (n == 0) {
        fputs("-", stdout);
        return;
    }
    for (i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void emit(int32_t r)
{
    if (r < 0)
        printf("err %s", imr_strerror(r));
    else
        print_hex(out, (size_t)r);
}

/* ------------------------------------------------------------------------------ events */

static size_t ev_len;

static void ev_reset(void)
{
    ev_len = 0;
    evtext[0] = '\0';
}

/* Append formatted text; sep != 0 starts a new event (" ; " separator). */
static void ev_add(int sep, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (sep && ev_len && ev_len + 3 < sizeof evtext) {
        memcpy(evtext + ev_len, " ; ", 4);
        ev_len += 3;
    }
    va_start(ap, fmt);
    k = vsnprintf(evtext + ev_len, sizeof evtext - ev_len, fmt, ap);
    va_end(ap);
    if (k > 0)
        ev_len += (size_t)k;
    if (ev_len >= sizeof evtext)
        ev_len = sizeof evtext - 1;
}

static void ev_hex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    if (n == 0) {
        ev_add(0, "-");
        return;
    }
    for (i = 0; i < n && ev_len + 3 < sizeof evtext; i++) {
        evtext[ev_len++] = digits[p[i] >> 4];
        evtext[ev_len++] = digits[p[i] & 15];
    }
    evtext[ev_len] = '\0';
}

/* Canonical payload of a decoded request: its fields re-encoded (trailing bytes dropped). */
static size_t request_payload(const imr_request_t *q, uint8_t *p)
{
    size_t i;
    switch (q->type) {
    case IMR_TIME_SYNC_REQUEST:
        for (i = 0; i < 8; i++)
            p[i] = (uint8_t)(q->u.time_sync.host_time_us >> (8 * i));
        return 8;
    case IMR_RUN_READ:
        for (i = 0; i < 4; i++) {
            p[i] = (uint8_t)(q->u.run_read.run_id >> (8 * i));
            p[4 + i] = (uint8_t)(q->u.run_read.offset >> (8 * i));
            p[8 + i] = (uint8_t)(q->u.run_read.length >> (8 * i));
        }
        return 12;
    case IMR_RUN_ERASE:
        for (i = 0; i < 4; i++) {
            p[i] = (uint8_t)(q->u.run_erase.run_id >> (8 * i));
            p[4 + i] = (uint8_t)(q->u.run_erase.crc32 >> (8 * i));
        }
        return 8;
    case IMR_CONFIG_GET:
        p[0] = q->u.config_get.key;
        return 1;
    case IMR_CONFIG_SET:
        p[0] = q->u.config_set.key;
        memcpy(p + 1, q->u.config_set.value, q->u.config_set.value_len);
        return 1u + q->u.config_set.value_len;
    default:
        return 0;
    }
}

static void drop_event(const char *kind, unsigned long offset, unsigned long n_bytes)
{
    ev_add(1, "D k=%s o=%lu n=%lu", kind, offset, n_bytes);
}

/* Print what one assembler step produced, as Python's FrameAssembler.push events. */
static void asm_event(const imr_asm_event_t *e, uint32_t offset, uint32_t n_bytes)
{
    imr_request_t q;
    uint8_t p[IMR_CONFIG_VALUE_MAX];
    size_t n;
    const uint8_t *payload = e->payload;
    if (e->rebooted)
        ev_add(1, "B o=%u n=%u", (unsigned)e->old_boot_id, (unsigned)e->boot_id);
    else if (e->lost)
        ev_add(1, "L n=%u s=%u b=%u", (unsigned)e->lost, (unsigned)e->seq, (unsigned)e->boot_id);
    if (e->kind == IMR_ASM_DROPPED) {
        drop_event(imr_strerror(e->error), offset, n_bytes);
        return;
    }
    if (e->kind != IMR_ASM_MESSAGE)
        return;
    n = e->length;
    if (imr_is_request(e->type)) {
        if (imr_decode_request(e->type, e->payload, e->length, &q) != IMR_OK) {
            drop_event("malformed", offset, n_bytes);
            return;
        }
        n = request_payload(&q, p);
        payload = p;
    }
    ev_add(1, "R t=%u s=%u b=%u v=%u f=%lu p=", (unsigned)e->type, (unsigned)e->seq,
           (unsigned)e->boot_id, (unsigned)e->version, (unsigned long)e->n_frames);
    ev_hex(payload, n);
}

static void print_events(void)
{
    fputs(ev_len ? evtext : "-", stdout);
}

/* Next comma-separated field of *s (modified in place); NULL at the end. */
static char *next_field(char **s)
{
    char *start = *s, *comma;
    if (start == NULL || *start == '\0')
        return NULL;
    comma = strchr(start, ',');
    if (comma) {
        *comma = '\0';
        *s = comma + 1;
    } else {
        *s = NULL;
    }
    return start;
}

static void cmd_rx(void)
{
    uint64_t rx_cap, asm_cap;
    char *chunks = NULL;
    const char *hex = NULL;
    long n;
    size_t pos = 0, ci = 0;
    unsigned long sizes[256];
    size_t n_sizes = 0;
    imr_rx_t rx;
    imr_asm_t as;
    uint8_t *rx_buf, *asm_buf;
    if (!parse_uint(tok(), RX_CAP_MAX, &rx_cap) || !parse_uint(tok(), RX_CAP_MAX, &asm_cap)
        || (chunks = tok()) == NULL || (hex = tok()) == NULL) {
        fputs("bad rx", stdout);
        return;
    }
    n = parse_hex(hex, bin, BIN_MAX);
    if (n < 0) {
        fputs("bad rx", stdout);
        return;
    }
    {
        char *c = chunks, *t;
        while ((t = next_field(&c)) != NULL && n_sizes < 256) {
            sizes[n_sizes] = strtoul(t, NULL, 10);
            n_sizes++;
        }
        if (n_sizes == 0 || (n_sizes == 1 && sizes[0] == 0)) {
            sizes[0] = (unsigned long)n ? (unsigned long)n : 1ul;
            n_sizes = 1;
        }
    }
    rx_buf = malloc(rx_cap ? (size_t)rx_cap : 1u);
    asm_buf = malloc(asm_cap ? (size_t)asm_cap : 1u);
    if (rx_buf == NULL || asm_buf == NULL)
        exit(2);
    imr_rx_init(&rx, rx_buf, (size_t)rx_cap);
    imr_asm_init(&as, asm_buf, (size_t)asm_cap);
    ev_reset();
    while (pos < (size_t)n) {
        size_t chunk = sizes[ci++ % n_sizes];
        uint8_t *piece;
        const uint8_t *p;
        size_t left;
        if (chunk == 0)
            chunk = 1;
        if (chunk > (size_t)n - pos)
            chunk = (size_t)n - pos;
        piece = heap_copy(bin + pos, chunk); /* each chunk in its own exact-size block */
        p = piece;
        pos += chunk;
        left = chunk;
        while (left) {
            imr_rx_event_t ev;
            size_t used = imr_rx_feed(&rx, p, left, &ev);
            p += used;
            left -= used;
            if (ev.kind == IMR_RX_DROPPED) {
                drop_event(imr_strerror(ev.error), ev.offset, ev.n_bytes);
            } else if (ev.kind == IMR_RX_FRAME) {
                imr_asm_event_t ae;
                imr_asm_push(&as, &ev.frame, &ae);
                asm_event(&ae, ev.offset, ev.n_bytes);
            }
        }
        free(piece);
    }
    free(rx_buf);
    free(asm_buf);
    print_events();
}

/* What the sensor answers to one assembler event (imr_reply_for). */
static void reply_event(const imr_asm_event_t *e)
{
    imr_request_t q;
    uint16_t code;
    switch (imr_reply_for(e, &q, &code)) {
    case IMR_REPLY_HANDLE:
        ev_add(1, "H t=%u", (unsigned)q.type);
        break;
    case IMR_REPLY_ERROR:
        ev_add(1, "E c=%u t=%u", (unsigned)code, (unsigned)e->type);
        break;
    default:
        break;
    }
}

/* pkt (replies == 0): the decoder events; answer (replies == 1): what the sensor answers. */
static void cmd_pkt(int replies)
{
    uint64_t asm_cap;
    char *list, *t;
    uint32_t offset = 0;
    imr_asm_t as;
    uint8_t *asm_buf;
    if (!parse_uint(tok(), RX_CAP_MAX, &asm_cap) || (list = tok()) == NULL) {
        fputs("bad pkt", stdout);
        return;
    }
    asm_buf = malloc(asm_cap ? (size_t)asm_cap : 1u);
    if (asm_buf == NULL)
        exit(2);
    imr_asm_init(&as, asm_buf, (size_t)asm_cap);
    ev_reset();
    while ((t = next_field(&list)) != NULL) {
        long n = parse_hex(t, bin, BIN_MAX);
        imr_frame_t f;
        int32_t err;
        uint8_t *packet;
        if (n < 0) {
            fputs("bad pkt", stdout);
            free(asm_buf);
            return;
        }
        packet = heap_copy(bin, (size_t)n);
        err = imr_frame_decode(packet, (size_t)n, &f);
        if (err != IMR_OK) {
            drop_event(imr_strerror(err), offset, (unsigned long)n);
        } else {
            imr_asm_event_t ae;
            imr_asm_push(&as, &f, &ae);
            if (replies)
                reply_event(&ae);
            else
                asm_event(&ae, offset, (uint32_t)n);
        }
        free(packet);
        offset += (uint32_t)n;
    }
    free(asm_buf);
    print_events();
}

/* ------------------------------------------------------------------------------ commands */

static int parse_frame_args(imr_frame_t *f)
{
    uint64_t ver, type, flags, seq, boot;
    long n;
    if (!parse_uint(tok(), 255, &ver) || !parse_uint(tok(), 255, &type) ||
        !parse_uint(tok(), 255, &flags) || !parse_uint(tok(), 65535, &seq) ||
        !parse_uint(tok(), 65535, &boot))
        return 0;
    n = parse_hex(tok(), bin, BIN_MAX);
    if (n < 0 || n > 65535)
        return 0;
    f->version = (uint8_t)ver;
    f->type = (uint8_t)type;
    f->flags = (uint8_t)flags;
    f->seq = (uint16_t)seq;
    f->boot_id = (uint16_t)boot;
    f->length = (uint16_t)n;
    f->payload = bin;
    return 1;
}

static void cmd_frag(void)
{
    const char *mode = tok();
    uint64_t ver, boot, seq, type, maxp;
    long n;
    imr_tx_t tx;
    imr_frag_t it;
    int32_t r;
    int first = 1, stream;
    if (mode == NULL || !parse_uint(tok(), 255, &ver) || !parse_uint(tok(), 65535, &boot) ||
        !parse_uint(tok(), 65535, &seq) || !parse_uint(tok(), 255, &type) ||
        !parse_uint(tok(), 1u << 20, &maxp) || (n = parse_hex(tok(), bin, BIN_MAX)) < 0) {
        fputs("bad frag", stdout);
        return;
    }
    stream = strcmp(mode, "stream") == 0;
    imr_tx_init(&tx, (uint16_t)boot, (uint16_t)seq);
    tx.version = (uint8_t)ver;
    r = imr_frag_init(&it, (uint8_t)type, bin, (size_t)n, (size_t)maxp);
    if (r < 0) {
        emit(r);
        return;
    }
    while ((r = imr_frag_next(&it, &tx, stream, out, ocap)) > 0) {
        if (!first && !stream)
            fputs(" ", stdout);
        first = 0;
        print_hex(out, (size_t)r);
    }
    if (r < 0)
        emit(r);
}

static int32_t cmd_msg(void)
{
    const char *name = tok();
    uint64_t a, b, c, d, e, f, g;
    long n;
    if (name == NULL)
        return -100;
    if (strcmp(name, "device_info") == 0) {
        imr_device_info_t m;
        uint64_t maj, mi, pa, proto, rate, ar, gr, mount;
        if (!parse_u64(tok(), &a) || !parse_uint(tok(), 255, &maj) || !parse_uint(tok(), 255, &mi)
            || !parse_uint(tok(), 255, &pa) || !parse_uint(tok(), 255, &proto) ||
            !parse_uint(tok(), 65535, &rate) || !parse_uint(tok(), 255, &ar) ||
            !parse_uint(tok(), 65535, &gr) || !parse_float(tok(), &m.acc_lsb_ms2) ||
            !parse_float(tok(), &m.gyr_lsb_rads) || !parse_uint(tok(), 255, &mount) ||
            (n = parse_hex(tok(), bin, 255)) < 0)
            return -100;
        m.device_id = a;
        m.fw_major = (uint8_t)maj;
        m.fw_minor = (uint8_t)mi;
        m.fw_patch = (uint8_t)pa;
        m.protocol_version = (uint8_t)proto;
        m.sample_rate_hz = (uint16_t)rate;
        m.acc_range_g = (uint8_t)ar;
        m.gyr_range_dps = (uint16_t)gr;
        m.mounting_hint = (uint8_t)mount;
        m.name = bin;
        m.name_len = (uint8_t)n;
        return imr_enc_device_info(&m, out, ocap);
    }
    if (strcmp(name, "sample_batch") == 0) {
        if (!parse_u64(tok(), &a) || !parse_uint(tok(), 0xFFFFFFFFu, &b) ||
            (n = parse_counts(tok())) < 0)
            return -100;
        return imr_enc_sample_batch(a, (uint32_t)b, counts, (size_t)n, out, ocap);
    }
    if (strcmp(name, "time_sync") == 0) {
        if (!parse_u64(tok(), &a) || !parse_u64(tok(), &b))
            return -100;
        return imr_enc_time_sync(a, b, out, ocap);
    }
    if (strcmp(name, "status") == 0) {
        imr_status_t m;
        if (!parse_uint(tok(), 255, &a) || !parse_uint(tok(), 65535, &b) ||
            !parse_uint(tok(), 0xFFFFFFFFu, &c) || !parse_uint(tok(), 0xFFFFFFFFu, &d) ||
            !parse_uint(tok(), 255, &e) || !parse_uint(tok(), 65535, &f) || !parse_u64(tok(), &g))
            return -100;
        m.battery_pct = (uint8_t)a;
        m.battery_mv = (uint16_t)b;
        m.storage_used_bytes = (uint32_t)c;
        m.storage_free_bytes = (uint32_t)d;
        m.state = (uint8_t)e;
        m.n_runs = (uint16_t)f;
        m.device_time_us = g;
        return imr_enc_status(&m, out, ocap);
    }
    if (strcmp(name, "catalogue") == 0) {
        size_t i;
        if (!parse_uint(tok(), sizeof entries / sizeof entries[0], &a))
            return -100;
        for (i = 0; i < a; i++) {
            if (!parse_uint(tok(), 0xFFFFFFFFu, &b) || !parse_u64(tok(), &c) ||
                !parse_uint(tok(), 0xFFFFFFFFu, &d) || !parse_uint(tok(), 0xFFFFFFFFu, &e))
                return -100;
            entries[i].run_id = (uint32_t)b;
            entries[i].start_unix_ms = c;
            entries[i].size = (uint32_t)d;
            entries[i].crc32 = (uint32_t)e;
        }
        return imr_enc_catalogue(entries, (size_t)a, out, ocap);
    }
    if (strcmp(name, "run_chunk") == 0) {
        if (!parse_uint(tok(), 0xFFFFFFFFu, &a) || !parse_uint(tok(), 0xFFFFFFFFu, &b) ||
            (n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return -100;
        return imr_enc_run_chunk((uint32_t)a, (uint32_t)b, bin, (size_t)n, out, ocap);
    }
    if (strcmp(name, "run_erased") == 0) {
        if (!parse_uint(tok(), 0xFFFFFFFFu, &a))
            return -100;
        return imr_enc_run_erased((uint32_t)a, out, ocap);
    }
    if (strcmp(name, "config_value") == 0) {
        if (!parse_uint(tok(), 255, &a) || (n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return -100;
        return imr_enc_config_value((uint8_t)a, bin, (size_t)n, out, ocap);
    }
    if (strcmp(name, "event") == 0) {
        if (!parse_uint(tok(), 255, &a) || !parse_u64(tok(), &b) ||
            !parse_uint(tok(), 0xFFFFFFFFu, &c))
            return -100;
        return imr_enc_event((uint8_t)a, b, (uint32_t)c, out, ocap);
    }
    if (strcmp(name, "ack") == 0) {
        if (!parse_uint(tok(), 255, &a))
            return -100;
        return imr_enc_ack((uint8_t)a, out, ocap);
    }
    if (strcmp(name, "error") == 0) {
        if (!parse_uint(tok(), 65535, &a) || !parse_uint(tok(), 255, &b) ||
            (n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return -100;
        return imr_enc_error((uint16_t)a, (uint8_t)b, bin, (size_t)n, out, ocap);
    }
    return -100;
}

static void cmd_req(void)
{
    uint64_t type;
    long n;
    imr_request_t q;
    int32_t r;
    static const struct { uint8_t type; const char *name; } names[] = {
        {IMR_DEVICE_INFO_REQUEST, "device_info_request"},
        {IMR_TIME_SYNC_REQUEST, "time_sync_request"},
        {IMR_STATUS_REQUEST, "status_request"},
        {IMR_CATALOGUE_REQUEST, "catalogue_request"},
        {IMR_RUN_READ, "run_read"},
        {IMR_RUN_ERASE, "run_erase"},
        {IMR_CONFIG_GET, "config_get"},
        {IMR_CONFIG_SET, "config_set"},
        {IMR_STREAM_START, "stream_start"},
        {IMR_STREAM_STOP, "stream_stop"},
        {IMR_RECORD_START, "record_start"},
        {IMR_RECORD_STOP, "record_stop"},
    };
    size_t i;
    if (!parse_uint(tok(), 255, &type) || (n = parse_hex(tok(), bin, BIN_MAX)) < 0) {
        fputs("bad req", stdout);
        return;
    }
    {
        uint8_t *payload = heap_copy(bin, (size_t)n);
        r = imr_decode_request((uint8_t)type, payload, (size_t)n, &q);
        free(payload);
    }
    if (r != IMR_OK) {
        emit(r);
        return;
    }
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].type == q.type)
            fputs(names[i].name, stdout);
    switch (q.type) {
    case IMR_TIME_SYNC_REQUEST:
        printf(" %llu", (unsigned long long)q.u.time_sync.host_time_us);
        break;
    case IMR_RUN_READ:
        printf(" %lu %lu %lu", (unsigned long)q.u.run_read.run_id,
               (unsigned long)q.u.run_read.offset, (unsigned long)q.u.run_read.length);
        break;
    case IMR_RUN_ERASE:
        printf(" %lu %lu", (unsigned long)q.u.run_erase.run_id,
               (unsigned long)q.u.run_erase.crc32);
        break;
    case IMR_CONFIG_GET:
        printf(" %u", (unsigned)q.u.config_get.key);
        break;
    case IMR_CONFIG_SET:
        printf(" %u ", (unsigned)q.u.config_set.key);
        print_hex(q.u.config_set.value, q.u.config_set.value_len);
        break;
    default:
        break;
    }
}

static int parse_header(imr_run_header_t *h)
{
    uint64_t fv, dev, run, boot, rate, unix_ms, t0, ar, mount, gr, ma, mi, pa;
    int i;
    if (!parse_uint(tok(), 65535, &fv) || !parse_u64(tok(), &dev) ||
        !parse_uint(tok(), 0xFFFFFFFFu, &run) || !parse_uint(tok(), 65535, &boot) ||
        !parse_uint(tok(), 65535, &rate) || !parse_u64(tok(), &unix_ms) ||
        !parse_u64(tok(), &t0) || !parse_uint(tok(), 255, &ar) || !parse_uint(tok(), 255, &mount)
        || !parse_uint(tok(), 65535, &gr) || !parse_float(tok(), &h->acc_lsb_ms2) ||
        !parse_float(tok(), &h->gyr_lsb_rads))
        return 0;
    for (i = 0; i < 3; i++)
        if (!parse_float(tok(), &h->acc_offset_ms2[i]))
            return 0;
    for (i = 0; i < 3; i++)
        if (!parse_float(tok(), &h->acc_gain[i]))
            return 0;
    for (i = 0; i < 3; i++)
        if (!parse_float(tok(), &h->gyr_offset_rads[i]))
            return 0;
    if (!parse_uint(tok(), 255, &ma) || !parse_uint(tok(), 255, &mi) ||
        !parse_uint(tok(), 255, &pa))
        return 0;
    h->format_version = (uint16_t)fv;
    h->device_id = dev;
    h->run_id = (uint32_t)run;
    h->boot_id = (uint16_t)boot;
    h->sample_rate_hz = (uint16_t)rate;
    h->start_unix_ms = unix_ms;
    h->start_device_time_us = t0;
    h->acc_range_g = (uint8_t)ar;
    h->mounting_hint = (uint8_t)mount;
    h->gyr_range_dps = (uint16_t)gr;
    h->firmware[0] = (uint8_t)ma;
    h->firmware[1] = (uint8_t)mi;
    h->firmware[2] = (uint8_t)pa;
    return 1;
}

static int parse_mode(const char *s, int *allow_packed)
{
    if (s == NULL)
        return 0;
    if (strcmp(s, "auto") == 0)
        *allow_packed = 1;
    else if (strcmp(s, "raw") == 0)
        *allow_packed = 0;
    else
        return 0;
    return 1;
}

/* Returns 0 when the line was not understood. */
static int run_line(const char *cmd)
{
    uint64_t a, b, c;
    long n;
    imr_frame_t f;
    int mode;
    if (strcmp(cmd, "crc16") == 0) {
        if ((n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return 0;
        printf("%04x", imr_crc16(IMR_CRC16_INIT, bin, (size_t)n));
    } else if (strcmp(cmd, "crc32") == 0) {
        if ((n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return 0;
        printf("%08lx", (unsigned long)imr_crc32(0, bin, (size_t)n));
    } else if (strcmp(cmd, "cobs") == 0) {
        if ((n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return 0;
        emit(imr_cobs_encode(bin, (size_t)n, out, ocap));
    } else if (strcmp(cmd, "uncobs") == 0) {
        if ((n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return 0;
        uint8_t *enc = heap_copy(bin, (size_t)n);
        emit(imr_cobs_decode(enc, (size_t)n, out, ocap));
        free(enc);
    } else if (strcmp(cmd, "frame") == 0 || strcmp(cmd, "stream") == 0) {
        if (!parse_frame_args(&f))
            return 0;
        emit(cmd[0] == 'f' ? imr_frame_encode(&f, out, ocap)
                           : imr_frame_encode_stream(&f, out, ocap));
    } else if (strcmp(cmd, "frag") == 0) {
        cmd_frag();
    } else if (strcmp(cmd, "msg") == 0) {
        int32_t r = cmd_msg();
        if (r == -100)
            return 0;
        emit(r);
    } else if (strcmp(cmd, "req") == 0) {
        cmd_req();
    } else if (strcmp(cmd, "rx") == 0) {
        cmd_rx();
    } else if (strcmp(cmd, "pkt") == 0) {
        cmd_pkt(0);
    } else if (strcmp(cmd, "answer") == 0) {
        cmd_pkt(1);
    } else if (strcmp(cmd, "runheader") == 0 || strcmp(cmd, "run_begin") == 0) {
        imr_run_header_t h;
        if (cmd[1] == 'u' && cmd[3] == '_') { /* run_begin */
            if (!parse_mode(tok(), &mode))
                return 0;
            imr_run_writer_init(&writer, mode);
        }
        if (!parse_header(&h))
            return 0;
        emit(imr_run_header_encode(&h, out, ocap));
    } else if (strcmp(cmd, "block") == 0) {
        if (!parse_uint(tok(), 255, &a) || !parse_uint(tok(), 255, &b) ||
            (n = parse_hex(tok(), bin, BIN_MAX)) < 0)
            return 0;
        emit(imr_block_encode((uint8_t)a, (uint8_t)b, bin, (size_t)n, out, ocap));
    } else if (strcmp(cmd, "samples") == 0) {
        if (!parse_mode(tok(), &mode) || !parse_uint(tok(), 0xFFFFFFFFu, &a) ||
            !parse_u64(tok(), &b) || (n = parse_counts(tok())) < 0)
            return 0;
        emit(imr_block_samples(counts, (size_t)n, (uint32_t)a, b, mode, out, ocap));
    } else if (strcmp(cmd, "packed") == 0) {
        if (!parse_uint(tok(), 0xFFFFFFFFu, &a) || !parse_u64(tok(), &b) ||
            (n = parse_counts(tok())) < 0)
            return 0;
        emit(imr_samples_packed_encode(counts, (size_t)n, (uint32_t)a, b, out, ocap));
    } else if (strcmp(cmd, "run_samples") == 0) {
        if (!parse_u64(tok(), &a) || (n = parse_counts(tok())) < 0)
            return 0;
        emit(imr_run_write_samples(&writer, counts, (size_t)n, a, out, ocap));
    } else if (strcmp(cmd, "run_batch") == 0) {
        uint64_t rate, per;
        size_t k, len = 0;
        if (!parse_uint(tok(), 65535, &rate) || !parse_uint(tok(), 1024, &per) || per == 0 ||
            !parse_u64(tok(), &a) || (n = parse_counts(tok())) < 0)
            return 0;
        for (k = 0; k < (size_t)n; k += (size_t)per) {
            size_t m = (size_t)n - k < (size_t)per ? (size_t)n - k : (size_t)per;
            int32_t r = imr_run_write_samples(&writer, counts + 6u * k, m,
                                              imr_sample_time_us(a, (uint32_t)k, (uint16_t)rate),
                                              out + len, ocap - len);
            if (r < 0) {
                emit(r);
                return 1;
            }
            len += (size_t)r;
        }
        emit((int32_t)len);
    } else if (strcmp(cmd, "run_event") == 0) {
        if (!parse_uint(tok(), 255, &a) || !parse_u64(tok(), &b) ||
            !parse_uint(tok(), 0xFFFFFFFFu, &c))
            return 0;
        emit(imr_block_event((uint8_t)a, b, (uint32_t)c, out, ocap));
    } else if (strcmp(cmd, "run_time") == 0) {
        if (!parse_u64(tok(), &a) || !parse_u64(tok(), &b))
            return 0;
        emit(imr_block_time(a, b, out, ocap));
    } else if (strcmp(cmd, "run_lost") == 0) {
        if (!parse_uint(tok(), 0xFFFFFFFFu, &a))
            return 0;
        emit(imr_run_write_lost(&writer, (uint32_t)a, out, ocap));
    } else if (strcmp(cmd, "run_end") == 0) {
        emit(imr_run_write_end(&writer, out, ocap));
    } else {
        return 0;
    }
    return 1;
}

int main(void)
{
    imr_run_writer_init(&writer, 1);
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *cmd = strtok(line, " \t\r\n");
        if (cmd == NULL) {
            puts("");
            continue;
        }
        ocap = cap_setting;
        out = malloc(ocap ? ocap : 1u);
        if (out == NULL)
            return 2;
        if (strcmp(cmd, "cap") == 0) {
            /* cap <n>: output capacity given to the encoders from now on ("cap -": default) */
            const char *v = tok();
            uint64_t c;
            if (v != NULL && strcmp(v, "-") == 0)
                cap_setting = BIN_MAX + 4096u;
            else if (parse_uint(v, BIN_MAX + 4096u, &c))
                cap_setting = (size_t)c;
            else
                fputs("bad cap", stdout);
        } else if (!run_line(cmd)) {
            printf("bad %s", cmd);
        }
        free(out);
        out = NULL;
        putchar('\n');
        fflush(stdout);
    }
    return 0;
}
