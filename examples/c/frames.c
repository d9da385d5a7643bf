/*
 * From pkg-config to frames written in memory: connect to llfreed as the owner "c-example", get
 * four frames, map them, write and read them back, unmap them, put them back.
 *
 *   cc -std=c11 -Wall -Wextra -o frames frames.c $(pkg-config --cflags --libs llfree-client)
 *   ./frames [SOCKET]        (default: $LLFREED_SOCKET, else the daemon's default socket)
 *
 * Exit status 0 when every step worked, 1 (with the library's message) when one did not.
 */
#include <llfree/client.h>

#include <stdio.h>
#include <string.h>

#define FRAMES 4

static int fail(const char *step, llfree_status status) {
    fprintf(stderr, "frames: %s: %s: %s\n", step, llfree_strerror(status), llfree_last_message());
    return 1;
}

int main(int argc, char **argv) {
    llfree_connect_options options;
    llfree_connect_options_init(&options);
    options.socket_path = argc > 1 ? argv[1] : NULL;
    options.owner = "c-example";                  /* created, persistent, on first use */
    options.flags = LLFREE_CONNECT_OPEN_PATH;     /* a daemon without the frames descriptor: open hello's path */
    options.connect_timeout_ms = 2000;            /* wait a little for a daemon that is starting */
    options.io_timeout_ms = 10000;

    llfree_client *client;
    llfree_status s = llfree_connect(&options, &client);
    if (s != LLFREE_OK) return fail("connect", s);

    llfree_pool_info pool;
    llfree_pool_info_get(client, &pool);
    printf("frames at %s: %llu frames of %u bytes, protocol version %u\n", pool.path, (unsigned long long)pool.frames,
           pool.frame_size, pool.version);

    llfree_frames object;
    s = llfree_frames_get(client, &object);
    if (s != LLFREE_OK) return fail("frames", s);
    printf("mapping from %s (%s)\n", object.source == LLFREE_FRAMES_DESCRIPTOR ? "the descriptor llfreed passed" : "the pool file",
           object.access == 2 ? "read-write" : "read-only");

    uint64_t frames[FRAMES];
    size_t served;
    llfree_status shortfall;
    s = llfree_get(client, 0, FRAMES, LLFREE_KIND_FIXED, frames, &served, &shortfall);
    if (s != LLFREE_OK) return fail("get", s);
    if (served < FRAMES) {
        fprintf(stderr, "frames: got %zu of %d frames (%s)\n", served, FRAMES, llfree_strerror(shortfall));
        if (served > 0) llfree_put(client, 0, frames, served, NULL, NULL);
        llfree_close(client);
        return 1;
    }

    int status = 0;
    for (size_t i = 0; i < served && status == 0; i++) {
        void *memory;
        s = llfree_map(client, frames[i], 1, LLFREE_MAP_READ | LLFREE_MAP_WRITE, &memory);
        if (s != LLFREE_OK) {
            status = fail("map", s);
            break;
        }
        char text[64];
        snprintf(text, sizeof text, "frame %llu belongs to c-example", (unsigned long long)frames[i]);
        memcpy(memory, text, strlen(text) + 1);              /* the write goes to the pool's memory */
        if (strcmp((const char *)memory, text) != 0) status = 1;
        printf("wrote \"%s\"\n", (const char *)memory);
        llfree_unmap(client, memory, 1);
    }

    llfree_status results[FRAMES];
    size_t freed;
    s = llfree_put(client, 0, frames, served, results, &freed);
    if (s != LLFREE_OK) return fail("put", s);
    for (size_t i = 0; i < served; i++)
        if (results[i] != LLFREE_OK) fprintf(stderr, "frames: frame %llu not freed: %s\n", (unsigned long long)frames[i], llfree_strerror(results[i]));
    printf("put back %zu of %zu frames\n", freed, served);
    llfree_close(client);
    return status == 0 && freed == served ? 0 : 1;
}
