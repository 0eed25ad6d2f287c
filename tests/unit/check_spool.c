/*
 * Unit tests for proxy/spool.c: memory below the limit, a file above it,
 * crossing the limit inside one write, exact bytes back from spool_read and
 * spool_add_to at any offset, bounded heap for a 50 MB message, no file left
 * in the directory, no descriptor leaked or closed twice, and failed writes
 * (a full disk, simulated with RLIMIT_FSIZE) that leave the spool intact.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "proxy/spool.h"
#include "tests/unit/unit.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPOOL_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SPOOL_TEST_ASAN 1
#endif

#if defined(SPOOL_TEST_ASAN)
size_t __sanitizer_get_current_allocated_bytes(void);
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define SPOOL_TEST_MALLINFO2 1
#endif

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* Octets of heap in use, or 0 where this cannot be measured. */
static size_t
heap_in_use(void)
{
#if defined(SPOOL_TEST_ASAN)
	return __sanitizer_get_current_allocated_bytes();
#elif defined(SPOOL_TEST_MALLINFO2)
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

/* The test content: octet pos of a message, not periodic, so a shifted copy shows. */
static unsigned char
pattern(size_t pos)
{
	uint32_t x = (uint32_t)pos ^ (uint32_t)(pos >> 32);

	x = (x ^ (x >> 16)) * 0x7feb352dU;
	x = (x ^ (x >> 15)) * 0x846ca68bU;
	return (unsigned char)(x ^ (x >> 16));
}

static void
fill(char *buf, size_t len, size_t offset)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)pattern(offset + i);
}

static void
assert_pattern(const char *buf, size_t len, size_t offset)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] != pattern(offset + i))
			ck_abort_msg("octet %zu is %u, not %u", offset + i, (unsigned char)buf[i],
			             pattern(offset + i));
}

static int
open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* Append total - spool_size() more octets of the pattern, piece octets a write. */
static void
write_to(struct spool *sp, size_t total, size_t piece)
{
	char *buf = malloc(piece);

	ck_assert_ptr_nonnull(buf);
	for (size_t off = spool_size(sp); off < total; off += piece) {
		size_t n = total - off < piece ? total - off : piece;

		fill(buf, n, off);
		ck_assert_int_eq(spool_write(sp, buf, n), 0);
		ck_assert_uint_eq(spool_size(sp), off + n);
	}
	free(buf);
}

static struct spool *
spool_with(size_t mem_limit, size_t total, size_t piece)
{
	struct spool *sp = spool_new(mem_limit, "/tmp");

	write_to(sp, total, piece);
	return sp;
}

/* spool_read from odd offsets, across block and file boundaries, and past the end. */
static void
check_read(struct spool *sp, size_t total)
{
	size_t step = total / 37 + 1, chunk = 10007;
	char *got = malloc(chunk);

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(spool_size(sp), total);
	for (size_t off = 0; off < total; off += step) {
		size_t want = total - off < chunk ? total - off : chunk;
		ssize_t n = spool_read(sp, off, got, chunk);

		ck_assert_int_gt(n, 0);
		ck_assert_uint_le((size_t)n, want);
		assert_pattern(got, (size_t)n, off);
	}
	ck_assert_int_eq(spool_read(sp, total, got, chunk), 0);
	ck_assert_int_eq(spool_read(sp, total + 5, got, chunk), 0);
	if (total > 0) {
		ck_assert_int_eq(spool_read(sp, total - 1, got, chunk), 1);
		assert_pattern(got, 1, total - 1);
	}
	free(got);
}

/* All of it, sequentially, in 64 KiB reads: what the backend's DATA writer does. */
static void
check_stream(struct spool *sp, size_t total)
{
	size_t chunk = 64 * KiB;
	char *got = malloc(chunk);
	size_t off = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(got);
	while ((n = spool_read(sp, off, got, chunk)) > 0) {
		assert_pattern(got, (size_t)n, off);
		off += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(off, total);
	free(got);
}

/* Take the pattern from offset on out of out, in pieces; out ends empty. */
static void
drain_pattern(struct evbuffer *out, size_t offset, size_t len)
{
	size_t chunk = 64 * KiB;
	char *got = malloc(chunk);

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(evbuffer_get_length(out), len);
	for (size_t done = 0; done < len;) {
		int n = evbuffer_remove(out, got, chunk);

		ck_assert_int_gt(n, 0);
		assert_pattern(got, (size_t)n, offset + done);
		done += (size_t)n;
	}
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	free(got);
}

/* spool_add_to after something already in out (the backend's command), from offset. */
static void
check_add_to(struct spool *sp, size_t offset, size_t total)
{
	struct evbuffer *out = evbuffer_new();
	char head[6];

	evbuffer_add(out, "BDAT\r\n", 6);
	ck_assert_int_eq(spool_add_to(sp, offset, out), 0);
	size_t want = offset < total ? total - offset : 0;

	ck_assert_uint_eq(evbuffer_get_length(out), 6 + want);
	ck_assert_int_eq(evbuffer_remove(out, head, 6), 6);
	ck_assert(memcmp(head, "BDAT\r\n", 6) == 0);
	drain_pattern(out, offset, want);
	evbuffer_free(out);
}

static void
check_all(struct spool *sp, size_t total)
{
	size_t offsets[] = {0, 1, 16383, 16384, 16385, total / 3, total - 1, total, total + 1};

	check_read(sp, total);
	check_stream(sp, total);
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
		if (offsets[i] <= total + 1)
			check_add_to(sp, offsets[i], total);
}

START_TEST(test_memory)
{
	int fds = open_fds();
	struct spool *sp = spool_with(256 * KiB, 100000, 999);

	/* Below the limit: no file. */
	ck_assert_int_eq(open_fds(), fds);
	check_all(sp, 100000);
	spool_free(sp);
	ck_assert_int_eq(open_fds(), fds);
}
END_TEST

START_TEST(test_exact_limit)
{
	int fds = open_fds();
	struct spool *sp = spool_with(5000, 5000, 1000);

	/* Reaching mem_limit is still memory; one octet more is a file. */
	ck_assert_int_eq(open_fds(), fds);
	check_all(sp, 5000);
	write_to(sp, 5001, 1);
	ck_assert_int_eq(open_fds(), fds + 1);
	check_all(sp, 5001);
	spool_free(sp);
	ck_assert_int_eq(open_fds(), fds);
}
END_TEST

START_TEST(test_cross_in_one_write)
{
	struct spool *sp = spool_with(1000, 600, 600);

	/* 600 + 600 passes 1000 in the middle of the second write. */
	write_to(sp, 1200, 600);
	check_all(sp, 1200);
	write_to(sp, 40000, 4000);
	check_all(sp, 40000);
	spool_free(sp);
}
END_TEST

START_TEST(test_file)
{
	struct spool *sp = spool_with(64 * KiB, 3 * MiB + 17, 65536);

	check_all(sp, 3 * MiB + 17);
	spool_free(sp);
}
END_TEST

START_TEST(test_zero_limit)
{
	int fds = open_fds();
	struct spool *sp = spool_new(0, "/tmp");

	ck_assert_int_eq(spool_write(sp, "", 0), 0);
	ck_assert_int_eq(open_fds(), fds);
	write_to(sp, 3000, 7);
	ck_assert_int_eq(open_fds(), fds + 1);
	check_all(sp, 3000);
	spool_free(sp);
}
END_TEST

/*
 * The point of the spool: a 50 MB message written in 64 KiB pieces with a
 * 256 KiB limit never holds more than the limit and a piece of heap.
 */
START_TEST(test_large_bounded)
{
	const size_t mem_limit = 256 * KiB, piece = 64 * KiB, total = 50 * MiB;
	struct spool *sp = spool_new(mem_limit, "/tmp");
	char *buf = malloc(piece);
	size_t base, peak = 0;

	ck_assert_ptr_nonnull(buf);
	base = heap_in_use();
	for (size_t off = 0; off < total; off += piece) {
		fill(buf, piece, off);
		ck_assert_int_eq(spool_write(sp, buf, piece), 0);
		size_t used = heap_in_use();

		if (used > peak)
			peak = used;
	}
	size_t after = heap_in_use();

	free(buf);
	ck_assert_uint_eq(spool_size(sp), total);
	if (base > 0) {
		/* Once in the file, the memory part is given back. */
		ck_assert_uint_le(after, base + 4 * KiB);
		ck_assert_msg(peak <= base + mem_limit + piece,
		              "spool used %zu octets of heap for a %zu octet limit", peak - base,
		              mem_limit);
		/* And it did hold the first 256 KiB in memory. */
		ck_assert_uint_ge(peak - base, mem_limit);
	}
	check_stream(sp, total);
	check_add_to(sp, 0, total);
	check_add_to(sp, total - 12345, total);
	spool_free(sp);
}
END_TEST

START_TEST(test_no_file_left)
{
	char dir[] = "/tmp/check_spool.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct spool *sp = spool_new(1000, dir);

	write_to(sp, 100000, 3000);
	/* The file is open but has no name: nothing to clean up after a crash. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int entries = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			entries++;
	closedir(d);
	ck_assert_int_eq(entries, 0);
	check_all(sp, 100000);
	spool_free(sp);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* What out took keeps its bytes after spool_free, and every descriptor is closed once. */
static void
check_outlives(size_t mem_limit, size_t total)
{
	int fds = open_fds();
	struct spool *sp = spool_with(mem_limit, total, 4096);
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();

	ck_assert_int_eq(spool_add_to(sp, 0, a), 0);
	ck_assert_int_eq(spool_add_to(sp, 100, b), 0);
	spool_free(sp);
	drain_pattern(a, 0, total);
	evbuffer_free(a);
	drain_pattern(b, 100, total - 100);
	evbuffer_free(b);
	ck_assert_int_eq(open_fds(), fds);
}

START_TEST(test_outlives_spool)
{
	check_outlives(1 * MiB, 200000);
	check_outlives(10000, 200000);
}
END_TEST

START_TEST(test_descriptors)
{
	int fds = open_fds();
	struct spool *sp = spool_with(1000, 50000, 5000);
	struct evbuffer *out = evbuffer_new();

	ck_assert_int_eq(open_fds(), fds + 1);
	/* Each spool_add_to holds its own duplicate until out lets go of it. */
	ck_assert_int_eq(spool_add_to(sp, 0, out), 0);
	ck_assert_int_eq(spool_add_to(sp, 0, out), 0);
	ck_assert_int_eq(open_fds(), fds + 3);
	evbuffer_free(out);
	ck_assert_int_eq(open_fds(), fds + 1);
	/* The spool still reads after its evbuffers are gone. */
	check_read(sp, 50000);
	spool_free(sp);
	ck_assert_int_eq(open_fds(), fds);
}
END_TEST

struct fsize_guard {
	struct rlimit saved;
	void (*handler)(int);
};

/* Files cannot grow past limit octets: writes fail with EFBIG, as with a full disk. */
static void
fsize_limit(struct fsize_guard *g, rlim_t limit)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &g->saved), 0);
	rl = g->saved;
	rl.rlim_cur = limit;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	g->handler = signal(SIGXFSZ, SIG_IGN);
}

static void
fsize_restore(struct fsize_guard *g)
{
	setrlimit(RLIMIT_FSIZE, &g->saved);
	signal(SIGXFSZ, g->handler);
}

START_TEST(test_full_when_moving)
{
	int fds = open_fds();
	struct spool *sp = spool_with(64 * KiB, 64 * KiB, 16 * KiB);
	struct fsize_guard g;
	char buf[16 * KiB];
	int rc, err;

	fill(buf, sizeof(buf), 64 * KiB);
	fsize_limit(&g, 32 * KiB);
	rc = spool_write(sp, buf, sizeof(buf));
	err = errno;
	fsize_restore(&g);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err, EFBIG);
	/* Nothing lost, nothing leaked: still the 64 KiB in memory. */
	ck_assert_int_eq(open_fds(), fds);
	check_all(sp, 64 * KiB);
	/* Room again: the same write succeeds and the spool goes on. */
	ck_assert_int_eq(spool_write(sp, buf, sizeof(buf)), 0);
	write_to(sp, 200000, 16 * KiB);
	ck_assert_int_eq(open_fds(), fds + 1);
	check_all(sp, 200000);
	spool_free(sp);
}
END_TEST

START_TEST(test_full_in_file)
{
	struct spool *sp = spool_with(16 * KiB, 96 * KiB, 16 * KiB);
	struct fsize_guard g;
	char buf[16 * KiB];
	int rc, err;

	/* The write from 96 KiB gets 100000 - 98304 octets in, then fails. */
	fill(buf, sizeof(buf), 96 * KiB);
	fsize_limit(&g, 100000);
	rc = spool_write(sp, buf, sizeof(buf));
	err = errno;
	fsize_restore(&g);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err, EFBIG);
	ck_assert_uint_eq(spool_size(sp), 96 * KiB);
	check_all(sp, 96 * KiB);
	/* The retry lands at the same offset, over the partial write. */
	ck_assert_int_eq(spool_write(sp, buf, sizeof(buf)), 0);
	write_to(sp, 300000, 10000);
	check_all(sp, 300000);
	spool_free(sp);
}
END_TEST

START_TEST(test_bad_dir)
{
	int fds = open_fds();
	struct spool *sp = spool_new(10, "/nonexistent/postern");
	char buf[100];

	fill(buf, sizeof(buf), 0);
	ck_assert_int_eq(spool_write(sp, buf, 5), 0);
	errno = 0;
	ck_assert_int_eq(spool_write(sp, buf + 5, 95), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(open_fds(), fds);
	check_all(sp, 5);
	spool_free(sp);
}
END_TEST

START_TEST(test_empty)
{
	struct spool *sp = spool_new(10, "/tmp");
	struct evbuffer *out = evbuffer_new();
	char c;

	ck_assert_uint_eq(spool_size(sp), 0);
	ck_assert_int_eq(spool_read(sp, 0, &c, 1), 0);
	ck_assert_int_eq(spool_add_to(sp, 0, out), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
	spool_free(sp);
	spool_free(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_exact_limit);
	tcase_add_test(tc, test_cross_in_one_write);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_zero_limit);
	tcase_add_test(tc, test_large_bounded);
	tcase_add_test(tc, test_no_file_left);
	tcase_add_test(tc, test_outlives_spool);
	tcase_add_test(tc, test_descriptors);
	tcase_add_test(tc, test_full_when_moving);
	tcase_add_test(tc, test_full_in_file);
	tcase_add_test(tc, test_bad_dir);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
