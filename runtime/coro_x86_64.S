/*
 * x86-64 (System V) context switch for runtime/coro.c.
 *
 * void sf__coro_swap(void **save_sp, void *new_sp);
 *   Pushes the callee-saved registers (rbp rbx r12-r15) plus MXCSR and the x87 control
 *   word on the current stack, stores rsp in *save_sp, loads new_sp and pops the same
 *   frame from it. Frame at the saved sp (low to high):
 *     [0] mxcsr(4) x87cw(2) pad(2)  [8] r15  [16] r14  [24] r13  [32] r12  [40] rbx
 *     [48] rbp  [56] return address
 *
 * sf__coro_trampoline: first "return" target of a new coroutine. coro.c builds the initial
 *   frame so that r12 = the sf_coro and rsp is 16-byte aligned here; it calls
 *   sf__coro_entry(c), which never returns. rip is marked undefined so unwinders (gdb)
 *   stop here instead of walking into garbage.
 */
	.text

	.globl	sf__coro_swap
	.hidden	sf__coro_swap
	.type	sf__coro_swap, @function
	.p2align 4
sf__coro_swap:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	sf__coro_swap, .-sf__coro_swap

	.globl	sf__coro_trampoline
	.hidden	sf__coro_trampoline
	.type	sf__coro_trampoline, @function
	.p2align 4
sf__coro_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r12, %rdi
	call	sf__coro_entry@PLT
	ud2
	.cfi_endproc
	.size	sf__coro_trampoline, .-sf__coro_trampoline

	.section .note.GNU-stack,"",@progbits
