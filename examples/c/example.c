/*
 * example.c: feed a small FTP session to libftplens and print the events.
 *
 * The seed session: a client at 192.168.1.106 logs in to 192.168.1.109:21 with USER/PASS, asks for
 * passive mode, is answered "227 Entering Passive Mode (192,168,1,109,104,134)" (port 26758 =
 * 104*256+134) and downloads a file over that channel with RETR.
 *
 * Build against an installed library (make install-lib PREFIX=...):
 *     cc example.c $(pkg-config --cflags --libs ftplens) -o example
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftplens.h>

struct step {
    ftplens_direction dir;
    const char *bytes;
};

static const struct step seed[] = {
    {FTPLENS_DIR_TO_CLIENT, "220 (vsFTPd 3.0.3)\r\n"},
    {FTPLENS_DIR_TO_SERVER, "USER ftpuser\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "331 Please specify the password.\r\n"},
    {FTPLENS_DIR_TO_SERVER, "PASS s3cret\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "230 Login successful.\r\n"},
    {FTPLENS_DIR_TO_SERVER, "TYPE I\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "200 Switching to Binary mode.\r\n"},
    {FTPLENS_DIR_TO_SERVER, "PASV\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "227 Entering Passive Mode (192,168,1,109,104,134).\r\n"},
    {FTPLENS_DIR_TO_SERVER, "RETR readme.txt\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "150 Opening BINARY mode data connection for readme.txt (1024 bytes).\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "226 Transfer complete.\r\n"},
    {FTPLENS_DIR_TO_SERVER, "QUIT\r\n"},
    {FTPLENS_DIR_TO_CLIENT, "221 Goodbye.\r\n"},
};

/* "192.168.1.109:26758", "[2001:db8::1]:21", "192.168.1.106:any" (port 0), "port 6446" (no address),
 * "-" (nothing). */
static const char *endpoint_str(const ftplens_endpoint *ep, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN + 2];
    switch (ep->family) {
    case FTPLENS_FAMILY_IPV4:
        inet_ntop(AF_INET, ep->addr, ip, sizeof ip);
        break;
    case FTPLENS_FAMILY_IPV6:
        ip[0] = '[';
        inet_ntop(AF_INET6, ep->addr, ip + 1, sizeof ip - 2);
        strcat(ip, "]");
        break;
    default:
        if (ep->port)
            snprintf(buf, size, "port %u", ep->port);
        else
            snprintf(buf, size, "-");
        return buf;
    }
    if (ep->port)
        snprintf(buf, size, "%s:%u", ip, ep->port);
    else
        snprintf(buf, size, "%s:any", ip);
    return buf;
}

static const char *mode_name(ftplens_mode m)
{
    switch (m) {
    case FTPLENS_MODE_NONE: return "NONE";
    case FTPLENS_MODE_PORT: return "PORT";
    case FTPLENS_MODE_PASV: return "PASV";
    case FTPLENS_MODE_EPRT: return "EPRT";
    case FTPLENS_MODE_EPSV: return "EPSV";
    case FTPLENS_MODE_LPRT: return "LPRT";
    case FTPLENS_MODE_LPSV: return "LPSV";
    default: return "?";
    }
}

static const char *outcome_name(ftplens_outcome o)
{
    switch (o) {
    case FTPLENS_OUTCOME_NONE: return "none";
    case FTPLENS_OUTCOME_COMPLETE: return "complete";
    case FTPLENS_OUTCOME_FAILED: return "failed";
    case FTPLENS_OUTCOME_ABORTED: return "aborted";
    case FTPLENS_OUTCOME_UNKNOWN: return "unknown";
    case FTPLENS_OUTCOME_EXPIRED: return "expired";
    default: return "?";
    }
}

static const char *login_state_name(ftplens_login_state s)
{
    switch (s) {
    case FTPLENS_LOGIN_ATTEMPT: return "attempt";
    case FTPLENS_LOGIN_SUCCESS: return "success";
    case FTPLENS_LOGIN_FAILURE: return "failure";
    default: return "?";
    }
}

static void print_event(const ftplens_event *e)
{
    char a[64], b[64];
    printf("frame %2" PRIu64 " %s ", e->frame, e->direction == FTPLENS_DIR_TO_SERVER ? "C>S" : "S>C");
    switch (e->kind) {
    case FTPLENS_EVENT_COMMAND:
        printf("COMMAND %s%s%s\n", e->command, *e->arg ? " " : "", e->arg);
        break;
    case FTPLENS_EVENT_REPLY:
        printf("REPLY %u %s", e->code, e->text);
        if (e->request_frame)
            printf(" (answers %s of frame %" PRIu64 " after %.3f s)", e->request_command, e->request_frame,
                   e->response_time);
        printf("\n");
        break;
    case FTPLENS_EVENT_LOGIN:
        printf("LOGIN user=%s password=%s state=%s failures=%u%s\n", e->user,
               e->password ? e->password : "(none)", login_state_name(e->login_state), e->failures,
               e->anonymous ? " anonymous" : "");
        break;
    case FTPLENS_EVENT_DATA_EXPECTED:
        printf("DATA_EXPECTED channel=%u mode=%s data=%s peer=%s arithmetic=\"%s\"%s%s\n", e->channel_id,
               mode_name(e->mode), endpoint_str(&e->data, a, sizeof a), endpoint_str(&e->peer, b, sizeof b),
               e->arithmetic, e->outcome ? " outcome=" : "", e->outcome ? outcome_name(e->outcome) : "");
        break;
    case FTPLENS_EVENT_TRANSFER_STARTED:
    case FTPLENS_EVENT_TRANSFER_ENDED:
        printf("%s channel=%u %s %s path=%s type=%s size=%" PRId64,
               e->kind == FTPLENS_EVENT_TRANSFER_STARTED ? "TRANSFER_STARTED" : "TRANSFER_ENDED", e->channel_id,
               e->command, e->arg, e->path, *e->transfer_type ? e->transfer_type : "-", e->size);
        if (e->kind == FTPLENS_EVENT_TRANSFER_ENDED)
            printf(" outcome=%s", outcome_name(e->outcome));
        printf("\n");
        break;
    case FTPLENS_EVENT_TLS_UPGRADE:
        printf("TLS_UPGRADE %s\n", e->text);
        break;
    case FTPLENS_EVENT_ANOMALY: {
        const char *name = ftplens_anomaly_name(e->anomaly);
        printf("ANOMALY %s: %s\n", name ? name : "?", e->text);
        break;
    }
    case FTPLENS_EVENT_DATA_PROTECTED:
        printf("DATA_PROTECTED\n");
        break;
    default:
        printf("event kind %u\n", e->kind);
    }
}

static int print_events(const ftplens_session *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ftplens_event e;
        ftplens_result r = ftplens_session_event(s, i, &e);
        if (r != FTPLENS_OK) {
            fprintf(stderr, "ftplens_session_event(%zu): error %u\n", i, r);
            return -1;
        }
        print_event(&e);
    }
    return 0;
}

int main(void)
{
    if (ftplens_abi_version() != FTPLENS_ABI_VERSION) {
        fprintf(stderr, "libftplens ABI %u, header %u\n", ftplens_abi_version(), FTPLENS_ABI_VERSION);
        return 1;
    }
    printf("libftplens %s\n", ftplens_version());

    /* Stateless: one line, no session. */
    static const char line[] = "227 Entering Passive Mode (192,168,1,109,104,134).";
    ftplens_line parsed;
    if (ftplens_line_parse((const uint8_t *)line, strlen(line), FTPLENS_DIR_TO_CLIENT, &parsed) == FTPLENS_OK)
        printf("parse_line: %u -> %s\n", parsed.code, parsed.arithmetic);

    /* A session over the control connection 192.168.1.106:50102 -> 192.168.1.109:21. */
    ftplens_session_config config;
    memset(&config, 0, sizeof config);
    config.client.family = FTPLENS_FAMILY_IPV4;
    config.client.port = 50102;
    inet_pton(AF_INET, "192.168.1.106", config.client.addr);
    config.server.family = FTPLENS_FAMILY_IPV4;
    config.server.port = 21;
    inet_pton(AF_INET, "192.168.1.109", config.server.addr);

    ftplens_session *s = ftplens_session_new(&config);
    if (!s) {
        fprintf(stderr, "ftplens_session_new failed\n");
        return 1;
    }
    int status = 0;
    uint64_t frame = 0;
    for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++) {
        size_t n = 0;
        frame++;
        ftplens_result r = ftplens_session_feed(s, seed[i].dir, (const uint8_t *)seed[i].bytes,
                                                strlen(seed[i].bytes), frame, 0.5 * (double)frame, &n);
        if (r != FTPLENS_OK) {
            fprintf(stderr, "ftplens_session_feed(frame %" PRIu64 "): error %u\n", frame, r);
            status = 1;
            break;
        }
        if (print_events(s, n) != 0) {
            status = 1;
            break;
        }
    }
    if (status == 0) {
        size_t n = 0;
        frame++;
        if (ftplens_session_finish(s, frame, 0.5 * (double)frame, &n) != FTPLENS_OK || print_events(s, n) != 0)
            status = 1;
    }
    ftplens_session_free(s);
    return status;
}
