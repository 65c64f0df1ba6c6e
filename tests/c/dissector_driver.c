/* Drives the ftplens dissector through the C ABI as the Wireshark plugin does: segments of a PASV RETR
 * session offered in capture order, the actions read back, then every frame's view on a second pass
 * after finish. Prints one line per view, item, tick, action and export piece, so that
 * tests/c_abi.rs can check what the plugin sees. Built by the cc crate. */
#include "ftplens.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            printf("CHECK FAILED line %d: %s\n", __LINE__, #cond);    \
            failures++;                                               \
        }                                                             \
    } while (0)

static const uint8_t CLIENT[4] = {192, 168, 1, 106};
static const uint8_t SERVER[4] = {192, 168, 1, 109};

static ftplens_endpoint ep(const uint8_t ip[4], uint16_t port) {
    ftplens_endpoint e;
    memset(&e, 0, sizeof e);
    e.family = FTPLENS_FAMILY_IPV4;
    e.port = port;
    memcpy(e.addr, ip, 4);
    return e;
}

/* Next sequence numbers of the three directions used: control to server, to client; data from the
 * server. */
static uint32_t next_seq[3] = {1, 1, 1};

static ftplens_dissector *d;

static void segment(uint32_t stream, int dir, ftplens_endpoint src, ftplens_endpoint dst, uint64_t frame,
                    uint32_t flags, const char *data, size_t len, ftplens_offer how) {
    ftplens_segment seg;
    ftplens_claim claim = 99;
    memset(&seg, 0, sizeof seg);
    seg.stream = stream;
    seg.src = src;
    seg.dst = dst;
    seg.frame = frame;
    seg.ts = 1000.0 + (double)frame * 0.1;
    seg.seq = next_seq[dir];
    seg.flags = flags;
    seg.data = (const uint8_t *)data;
    seg.len = len;
    next_seq[dir] += (uint32_t)len;
    CHECK(ftplens_dissector_segment(d, &seg, how, &claim) == FTPLENS_OK);
    printf("CLAIM frame=%llu claim=%u\n", (unsigned long long)frame, claim);

    const ftplens_action *actions = NULL;
    size_t n = 0;
    CHECK(ftplens_dissector_actions(d, &actions, &n) == FTPLENS_OK);
    for (size_t i = 0; i < n; i++) {
        const ftplens_action *a = &actions[i];
        if (a->kind == FTPLENS_ACTION_EXPECT)
            printf("EXPECT frame=%llu listener=%u.%u.%u.%u:%u connector=%u.%u.%u.%u alt_family=%u\n",
                   (unsigned long long)a->frame, a->listener.addr[0], a->listener.addr[1], a->listener.addr[2],
                   a->listener.addr[3], a->listener.port, a->connector.addr[0], a->connector.addr[1],
                   a->connector.addr[2], a->connector.addr[3], a->alt_listener.family);
        else
            printf("ACTION kind=%u stream=%u frame=%llu\n", a->kind, a->stream, (unsigned long long)a->frame);
    }
}

static void control(int from_server, uint64_t frame, const char *text) {
    ftplens_endpoint c = ep(CLIENT, 57658), s = ep(SERVER, 21);
    if (from_server)
        segment(1, 1, s, c, frame, FTPLENS_TCP_SYN_ACK, text, strlen(text), FTPLENS_OFFER_PORT);
    else
        segment(1, 0, c, s, frame, FTPLENS_TCP_SYN, text, strlen(text), FTPLENS_OFFER_PORT);
}

static void print_view(uint64_t frame) {
    ftplens_view v;
    ftplens_result r = ftplens_dissector_view(d, frame, &v);
    if (r == FTPLENS_END) {
        CHECK(v.kind == FTPLENS_VIEW_NONE);
        printf("VIEW frame=%llu none\n", (unsigned long long)frame);
        return;
    }
    CHECK(r == FTPLENS_OK);
    printf("VIEW frame=%llu kind=%u info=%s title=%s flow=%s tls=%d text=%d\n", (unsigned long long)frame, v.kind,
           v.info, v.title, v.flow ? v.flow : "(none)", v.tls, v.text);
    for (size_t i = 0; i < v.n_items; i++) {
        const ftplens_item *it = &v.items[i];
        ftplens_field_info info;
        CHECK(it->target == FTPLENS_TARGET_FRAME);
        CHECK(ftplens_field_get(it->field, &info) == FTPLENS_OK);
        printf("ITEM frame=%llu %s", (unsigned long long)frame, info.abbrev);
        switch (info.type) {
        case FTPLENS_FT_STRING: printf("=%s", it->string_value); break;
        case FTPLENS_FT_UINT:
        case FTPLENS_FT_BOOL:
        case FTPLENS_FT_FRAME: printf("=%llu", (unsigned long long)it->uint_value); break;
        default: break;
        }
        printf(" @%u+%u\n", it->offset, it->length);
        if (it->expert != FTPLENS_NO_EXPERT) {
            ftplens_expert_info ex;
            CHECK(ftplens_expert_get(it->expert, &ex) == FTPLENS_OK);
            printf("EXPERT frame=%llu %s: %s\n", (unsigned long long)frame, ex.abbrev, it->expert_message);
        }
    }
    for (size_t i = 0; i < v.n_stats; i++) {
        const ftplens_stat *st = &v.stats[i];
        printf("TICK frame=%llu %s", (unsigned long long)frame, st->node[0]);
        for (int l = 1; l < 3; l++)
            if (st->node[l])
                printf(" > %s", st->node[l]);
        printf("\n");
    }
    if (v.export_piece.object)
        printf("EXPORT frame=%llu object=%llu name=%s server=%s offset=%llu skip=%u len=%u\n",
               (unsigned long long)frame, (unsigned long long)v.export_piece.object, v.export_piece.filename,
               v.export_piece.server, (unsigned long long)v.export_piece.offset, v.export_piece.skip,
               v.export_piece.len);
}

int main(void) {
    ftplens_dissector_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hide_passwords = true;
    d = ftplens_dissector_new(&cfg);
    CHECK(d != NULL);

    control(1, 1, "220 FTP ready\r\n");
    control(0, 2, "USER alice\r\n");
    control(1, 3, "331 Password please\r\n");
    control(0, 4, "PASS s3cret\r\n");
    control(1, 5, "230 Logged in\r\n");
    control(0, 6, "PASV\r\n");
    control(1, 7, "227 Entering Passive Mode (192,168,1,109,104,134).\r\n");
    control(0, 8, "RETR notes.txt\r\n");
    control(1, 9, "150 Opening BINARY mode data connection\r\n");
    static char block[1000];
    memset(block, 'n', sizeof block);
    ftplens_endpoint ds = ep(SERVER, 26758), dc = ep(CLIENT, 40000);
    segment(2, 2, ds, dc, 10, FTPLENS_TCP_SYN_ACK, block, sizeof block, FTPLENS_OFFER_EXPECTED);
    segment(2, 2, ds, dc, 11, FTPLENS_TCP_SYN_ACK | FTPLENS_TCP_FIN, block, 500, FTPLENS_OFFER_EXPECTED);
    control(1, 12, "226 Transfer complete\r\n");
    /* Bad arguments get error codes, never a crash; frame 13 stays unknown. */
    ftplens_segment none;
    ftplens_claim claim = 99;
    memset(&none, 0, sizeof none);
    CHECK(ftplens_dissector_segment(NULL, &none, FTPLENS_OFFER_PORT, &claim) == FTPLENS_ERR_NULL_ARGUMENT);
    CHECK(ftplens_dissector_segment(d, NULL, FTPLENS_OFFER_PORT, &claim) == FTPLENS_ERR_NULL_ARGUMENT);
    CHECK(claim == 99);

    CHECK(ftplens_dissector_finish(d) == FTPLENS_OK);
    for (uint64_t f = 1; f <= 13; f++)
        print_view(f);
    ftplens_dissector_free(d);
    printf("failures=%d\n", failures);
    return failures != 0;
}
