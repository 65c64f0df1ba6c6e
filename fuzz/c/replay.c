/*
 * replay.c: replay fuzz inputs through the ftplens C ABI from C, the way a dissector calls it, so
 * that valgrind and the C sanitizers see the real boundary (scripts/valgrind-clib.sh).
 *
 *     replay FILE...
 *
 * Each file is read like the `ffi` fuzz target's input (fuzz/src/drivers.rs): a config byte
 * (bit 0: endpoints, bit 1: tiny limits, bit 2: NULL config), then a transcript of records: a
 * header byte (bit 7: server to client, bits 0-6: length; 0: a control byte follows, 0 = finish,
 * k = wait k*8 seconds) and the bytes. After every feed it copies out each event, walks every
 * string, reads the items and the summary, and checks spans against the buffer it fed.
 * Exit status: 0 when every check held, 1 otherwise.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "ftplens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long failures;
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s: CHECK FAILED line %d: %s\n", current, __LINE__, #cond); \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static const char *current = "";
static volatile size_t sink; /* keeps the string walks from being optimised away */

static void walk(const char *s) {
    if (s)
        sink += strlen(s);
}

static void check_event(const ftplens_event *e, size_t len) {
    CHECK((size_t)e->line_offset + e->line_length <= len);
    switch (e->kind) {
    case FTPLENS_EVENT_COMMAND:
        CHECK(e->command && e->arg);
        walk(e->command);
        walk(e->arg);
        break;
    case FTPLENS_EVENT_REPLY:
        CHECK(e->text && e->request_command);
        walk(e->text);
        walk(e->request_command);
        break;
    case FTPLENS_EVENT_LOGIN:
        CHECK(e->user != NULL);
        walk(e->user);
        walk(e->password);
        break;
    case FTPLENS_EVENT_TRANSFER_STARTED:
    case FTPLENS_EVENT_TRANSFER_ENDED:
        CHECK(e->command && e->arg && e->path && e->transfer_type);
        walk(e->command);
        walk(e->arg);
        walk(e->path);
        walk(e->transfer_type);
        break;
    case FTPLENS_EVENT_TLS_UPGRADE:
    case FTPLENS_EVENT_ANOMALY:
        CHECK(e->text != NULL);
        walk(e->text);
        if (e->kind == FTPLENS_EVENT_ANOMALY)
            CHECK(ftplens_anomaly_name(e->anomaly) != NULL);
        break;
    case FTPLENS_EVENT_DATA_EXPECTED:
    case FTPLENS_EVENT_DATA_PROTECTED:
        break;
    default:
        CHECK(!"unknown event kind");
    }
    CHECK(memchr(e->arithmetic, 0, sizeof e->arithmetic) != NULL);
}

static void after_call(ftplens_session *s, ftplens_result r, size_t n, size_t len) {
    CHECK(r == FTPLENS_OK);
    if (r != FTPLENS_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        ftplens_event e;
        CHECK(ftplens_session_event(s, i, &e) == FTPLENS_OK);
        check_event(&e, len);
    }
    ftplens_event e;
    CHECK(ftplens_session_event(s, n, &e) == FTPLENS_ERR_INVALID_ARGUMENT);
    const ftplens_item *items = NULL;
    size_t n_items = 0;
    CHECK(ftplens_session_items(s, &items, &n_items) == FTPLENS_OK);
    size_t n_fields = ftplens_field_count();
    for (size_t i = 0; i < n_items; i++) {
        const ftplens_item *it = &items[i];
        CHECK(it->field < n_fields);
        if (it->target == FTPLENS_TARGET_FRAME)
            CHECK((size_t)it->offset + it->length <= len);
        walk(it->string_value);
        if (it->expert != FTPLENS_NO_EXPERT) {
            CHECK(it->expert < ftplens_expert_count());
            CHECK(it->expert_message != NULL);
            walk(it->expert_message);
        }
    }
    walk(ftplens_session_summary(s));
}

static void stateless(const uint8_t *p, size_t len, ftplens_direction dir) {
    ftplens_line line;
    ftplens_result r = ftplens_line_parse(p, len, dir, &line);
    CHECK(r == FTPLENS_OK || r == FTPLENS_ERR_PARSE);
    if (r == FTPLENS_OK) {
        if (line.verb)
            CHECK(line.verb >= p && line.verb + line.verb_len <= p + len);
        if (line.arg)
            CHECK(line.arg >= p && line.arg + line.arg_len <= p + len);
        if (line.text)
            CHECK(line.text >= p && line.text + line.text_len <= p + len);
        walk(line.reply_class);
        walk(line.reply_category);
        walk(line.reply_meaning);
    }
    CHECK(ftplens_complete_prefix(p, len, 16) <= len);
    CHECK(ftplens_heuristic(p, len) <= FTPLENS_VERDICT_CLIENT);
}

static void replay(const uint8_t *data, size_t size) {
    uint8_t cfg_byte = size ? data[0] : 0;
    ftplens_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (cfg_byte & 1) {
        cfg.client.family = FTPLENS_FAMILY_IPV4;
        cfg.client.port = 57658;
        cfg.client.addr[0] = 10;
        cfg.client.addr[3] = 1;
        cfg.server.family = FTPLENS_FAMILY_IPV4;
        cfg.server.port = 21;
        cfg.server.addr[0] = 10;
        cfg.server.addr[3] = 2;
    }
    if (cfg_byte & 2) {
        ftplens_limits l = {24, 2, 2, 2, 20, 2};
        cfg.limits = l;
    }
    ftplens_session *s = ftplens_session_new((cfg_byte & 4) ? NULL : &cfg);
    CHECK(s != NULL);
    if (!s)
        return;
    double ts = 1000.0;
    uint64_t frame = 0;
    size_t i = size ? 1 : 0;
    while (i < size) {
        uint8_t h = data[i++];
        size_t n = h & 0x7f;
        ftplens_direction dir = (h & 0x80) ? FTPLENS_DIR_TO_CLIENT : FTPLENS_DIR_TO_SERVER;
        size_t count = 0;
        frame++;
        ts += 0.001;
        if (n == 0) {
            if (i >= size)
                break;
            uint8_t k = data[i++];
            if (k == 0) {
                ftplens_result r = ftplens_session_finish(s, frame, ts, &count);
                after_call(s, r, count, 0);
            } else
                ts += k * 8.0;
            continue;
        }
        if (n > size - i)
            n = size - i;
        /* A private copy, freed after the call: a pointer kept into it would be a use after free. */
        uint8_t *buf = malloc(n);
        memcpy(buf, data + i, n);
        i += n;
        stateless(buf, n, dir);
        CHECK(ftplens_session_complete_prefix(s, dir, buf, n) <= n);
        ftplens_result r = ftplens_session_feed(s, dir, buf, n, frame, ts, &count);
        after_call(s, r, count, n);
        free(buf);
        if ((cfg_byte & 8) && (frame & 1)) { /* as the Wireshark plugin does after every feed */
            CHECK(ftplens_session_release(s) == FTPLENS_OK);
            walk(ftplens_session_summary(s));
        }
    }
    size_t count = 0;
    ftplens_result r = ftplens_session_finish(s, frame + 1, ts, &count);
    after_call(s, r, count, 0);
    ftplens_session_free(s);
}

int main(int argc, char **argv) {
    CHECK(ftplens_abi_version() == FTPLENS_ABI_VERSION);
    walk(ftplens_version());
    for (int a = 1; a < argc; a++) {
        current = argv[a];
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            failures++;
            continue;
        }
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
        size_t got = size > 0 ? fread(data, 1, (size_t)size, f) : 0;
        fclose(f);
        replay(data, got);
        free(data);
    }
    printf("%d inputs, %lu failed checks\n", argc - 1, failures);
    return failures ? 1 : 0;
}
