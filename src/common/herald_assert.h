/* herald_assert.h - HERALD_ASSERT, an assertion that stays in every build (NDEBUG or not).
 *
 * For invariants of the program itself, never for input: input from the network, a peer daemon
 * or a file is validated and refused (STYLE: "validated and rejected, never asserted on"). A
 * failed assertion logs file, line and the expression to stderr and aborts, so a core dump and
 * the log show where the program's own state went wrong.
 */
#ifndef HERALD_ASSERT_H
#define HERALD_ASSERT_H

/* Prints "file:line: assertion failed: expr" and aborts. */
__attribute__((noreturn)) void herald_assert_fail(const char *expr, const char *file, int line);

#define HERALD_ASSERT(expr) ((expr) ? (void)0 : herald_assert_fail(#expr, __FILE__, __LINE__))

#endif
