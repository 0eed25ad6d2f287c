/*
 * Unit tests for proxy/spool.c: memory below the limit, a file above it,
 * crossing the limit inside one write, and reading back exactly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/spool.h"

static void
fill(char *buf, size_t len, size_t offset)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((offset + i) * 31 % 251);
}

static void
check_content(struct spool *sp, size_t total)
{
	char *want = malloc(total + 1), *got = malloc(total + 1);
	struct evbuffer *out = evbuffer_new();

	fill(want, total, 0);
	ck_assert_uint_eq(spool_size(sp), total);
	/* Piecewise reads from odd offsets. */
	for (size_t off = 0; off < total; off += 7777) {
		size_t n = total - off < 10000 ? total - off : 10000;

		ck_assert_int_eq(spool_read(sp, off, got, n), (ssize_t)n);
		ck_assert(memcmp(got, want + off, n) == 0);
	}
	ck_assert_int_eq(spool_read(sp, total, got, 10), 0);
	ck_assert_int_eq(spool_add_to(sp, 0, out), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), total);
	ck_assert_int_eq(evbuffer_remove(out, got, total), (int)total);
	ck_assert(memcmp(got, want, total) == 0);
	/* From an offset, as when postern rewrote the header block. */
	ck_assert_int_eq(spool_add_to(sp, total / 3, out), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), total - total / 3);
	ck_assert_int_eq(evbuffer_remove(out, got, total), (int)(total - total / 3));
	ck_assert(memcmp(got, want + total / 3, total - total / 3) == 0);
	evbuffer_free(out);
	free(want);
	free(got);
}

static struct spool *
write_in_pieces(size_t mem_limit, size_t total, size_t piece)
{
	struct spool *sp = spool_new(mem_limit, "/tmp");
	char *buf = malloc(piece);

	for (size_t off = 0; off < total; off += piece) {
		size_t n = total - off < piece ? total - off : piece;

		fill(buf, n, off);
		ck_assert_int_eq(spool_write(sp, buf, n), 0);
	}
	free(buf);
	return sp;
}

START_TEST(test_memory)
{
	struct spool *sp = write_in_pieces(256 * 1024, 100000, 999);

	check_content(sp, 100000);
	spool_free(sp);
}
END_TEST

START_TEST(test_file)
{
	struct spool *sp = write_in_pieces(64 * 1024, 3 * 1024 * 1024 + 17, 65536);

	check_content(sp, 3 * 1024 * 1024 + 17);
	spool_free(sp);
}
END_TEST

START_TEST(test_cross_in_one_write)
{
	struct spool *sp = write_in_pieces(1000, 5000, 4000);

	check_content(sp, 5000);
	spool_free(sp);
}
END_TEST

START_TEST(test_bad_dir)
{
	struct spool *sp = spool_new(10, "/nonexistent/postern");
	char buf[100] = {0};

	ck_assert_int_eq(spool_write(sp, buf, 5), 0);
	ck_assert_int_eq(spool_write(sp, buf, 100), -1);
	spool_free(sp);
}
END_TEST

START_TEST(test_empty)
{
	struct spool *sp = spool_new(10, "/tmp");
	struct evbuffer *out = evbuffer_new();

	ck_assert_uint_eq(spool_size(sp), 0);
	ck_assert_int_eq(spool_add_to(sp, 0, out), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
	spool_free(sp);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_cross_in_one_write);
	tcase_add_test(tc, test_bad_dir);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
