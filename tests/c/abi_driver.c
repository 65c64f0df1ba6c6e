/* Drives the ftplens C ABI through a whole session (the README's seed example) and prints one line
 * per event, so that tests/c_abi.rs can check what a C caller sees. Built by the cc crate. */
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

static void print_endpoint(const char *label, const ftplens_endpoint *ep) {
    if (ep->family == FTPLENS_FAMILY_IPV4)
        printf(" %s=%u.%u.%u.%u:%u", label, ep->addr[0], ep->addr[1], ep->addr[2], ep->addr[3], ep->port);
}

static void feed(ftplens_session *s, ftplens_direction dir, const char *text, uint64_t frame) {
    size_t n = 0;
    ftplens_result r = ftplens_session_feed(s, dir, (const uint8_t *)text, strlen(text), frame, frame * 0.01, &n);
    CHECK(r == FTPLENS_OK);
    for (size_t i = 0; i < n; i++) {
        ftplens_event e;
        CHECK(ftplens_session_event(s, i, &e) == FTPLENS_OK);
        printf("frame=%llu ", (unsigned long long)e.frame);
        switch (e.kind) {
        case FTPLENS_EVENT_COMMAND: printf("COMMAND %s %s", e.command, e.arg); break;
        case FTPLENS_EVENT_REPLY:
            printf("REPLY %u request_frame=%llu request=%s", e.code, (unsigned long long)e.request_frame,
                   e.request_command);
            break;
        case FTPLENS_EVENT_LOGIN:
            printf("LOGIN user=%s password=%s state=%u anonymous=%d", e.user, e.password ? e.password : "(none)",
                   e.login_state, e.anonymous);
            break;
        case FTPLENS_EVENT_DATA_EXPECTED:
            printf("DATA_EXPECTED channel=%u mode=%u arithmetic=%s", e.channel_id, e.mode, e.arithmetic);
            print_endpoint("data", &e.data);
            print_endpoint("peer", &e.peer);
            break;
        case FTPLENS_EVENT_TRANSFER_STARTED:
        case FTPLENS_EVENT_TRANSFER_ENDED:
            printf("%s channel=%u command=%s file=%s setup_frame=%llu command_frame=%llu outcome=%u",
                   e.kind == FTPLENS_EVENT_TRANSFER_STARTED ? "TRANSFER_STARTED" : "TRANSFER_ENDED", e.channel_id,
                   e.command, e.arg, (unsigned long long)e.setup_frame, (unsigned long long)e.command_frame,
                   e.outcome);
            print_endpoint("data", &e.data);
            break;
        case FTPLENS_EVENT_ANOMALY: printf("ANOMALY %s", ftplens_anomaly_name(e.anomaly)); break;
        default: printf("KIND %u", e.kind); break;
        }
        printf("\n");
    }
    /* Items are readable too, and name registry fields. */
    const ftplens_item *items = NULL;
    size_t n_items = 0;
    CHECK(ftplens_session_items(s, &items, &n_items) == FTPLENS_OK);
    for (size_t i = 0; i < n_items; i++) {
        ftplens_field_info info;
        CHECK(ftplens_field_get(items[i].field, &info) == FTPLENS_OK);
        if (strcmp(info.abbrev, "ftplens.data.arithmetic") == 0)
            printf("ITEM %s=%s\n", info.abbrev, items[i].string_value);
        if (items[i].expert != FTPLENS_NO_EXPERT) {
            ftplens_expert_info ex;
            CHECK(ftplens_expert_get(items[i].expert, &ex) == FTPLENS_OK);
            printf("EXPERT %s\n", ex.abbrev);
        }
    }
}

int main(void) {
    CHECK(ftplens_abi_version() == FTPLENS_ABI_VERSION);

    /* Bad arguments get error codes, never a crash. */
    size_t n = 0;
    CHECK(ftplens_session_feed(NULL, FTPLENS_DIR_TO_SERVER, (const uint8_t *)"x", 1, 1, 0, &n) ==
          FTPLENS_ERR_NULL_ARGUMENT);
    CHECK(ftplens_line_parse(NULL, 3, FTPLENS_DIR_TO_SERVER, NULL) == FTPLENS_ERR_NULL_ARGUMENT);
    CHECK(ftplens_field_get(100000, NULL) == FTPLENS_ERR_NULL_ARGUMENT);
    CHECK(ftplens_anomaly_name(9999) == NULL);
    ftplens_session_free(NULL);

    /* The stateless parser. */
    const char *l227 = "227 Entering Passive Mode (192,168,1,109,104,134).\r\n";
    ftplens_line line;
    CHECK(ftplens_line_parse((const uint8_t *)l227, strlen(l227), FTPLENS_DIR_TO_CLIENT, &line) == FTPLENS_OK);
    printf("LINE code=%u port=%u arithmetic=%s class=%s category=%s\n", line.code, line.endpoint.port,
           line.arithmetic, line.reply_class, line.reply_category);
    CHECK(ftplens_line_parse((const uint8_t *)"PORT 1,2,3,4,300,1", 18, FTPLENS_DIR_TO_SERVER, &line) == FTPLENS_OK);
    printf("LINE mode=%u address_error=%s\n", line.mode, line.address_error);
    CHECK(ftplens_line_parse((const uint8_t *)"hello", 5, FTPLENS_DIR_TO_CLIENT, &line) == FTPLENS_ERR_PARSE);
    CHECK(ftplens_line_parse((const uint8_t *)"x", 1, 7, &line) == FTPLENS_ERR_INVALID_ARGUMENT);

    ftplens_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const uint8_t client[4] = {192, 168, 1, 106}, server[4] = {192, 168, 1, 109};
    cfg.client.family = FTPLENS_FAMILY_IPV4;
    memcpy(cfg.client.addr, client, 4);
    cfg.client.port = 57658;
    cfg.server.family = FTPLENS_FAMILY_IPV4;
    memcpy(cfg.server.addr, server, 4);
    cfg.server.port = 21;
    ftplens_session *s = ftplens_session_new(&cfg);
    CHECK(s != NULL);
    CHECK(ftplens_session_feed(s, 9, (const uint8_t *)"x", 1, 1, 0, &n) == FTPLENS_ERR_INVALID_ARGUMENT);

    feed(s, FTPLENS_DIR_TO_CLIENT, "220 (vsFTPd 3.0.3)\r\n", 4);
    /* A command split across two segments. */
    feed(s, FTPLENS_DIR_TO_SERVER, "USER al", 6);
    feed(s, FTPLENS_DIR_TO_SERVER, "ice\r\n", 7);
    feed(s, FTPLENS_DIR_TO_CLIENT, "331 Please specify the password.\r\n", 8);
    feed(s, FTPLENS_DIR_TO_SERVER, "PASS s3cret\r\n", 10);
    feed(s, FTPLENS_DIR_TO_CLIENT, "230 Login successful.\r\n", 12);
    feed(s, FTPLENS_DIR_TO_SERVER, "PASV\r\n", 14);
    feed(s, FTPLENS_DIR_TO_CLIENT, "227 Entering Passive Mode (192,168,1,109,104,134).\r\n", 16);
    feed(s, FTPLENS_DIR_TO_SERVER, "RETR notes.txt\r\n", 18);
    feed(s, FTPLENS_DIR_TO_CLIENT, "150 Opening BINARY mode data connection for notes.txt (42 bytes).\r\n226 Transfer complete.\r\n", 20);
    printf("SUMMARY %s\n", ftplens_session_summary(s));
    ftplens_session_free(s);

    printf("failures=%d\n", failures);
    return failures == 0 ? 0 : 1;
}
