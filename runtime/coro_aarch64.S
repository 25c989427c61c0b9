/*
 * AArch64 (AAPCS64) context switch for runtime/coro.c.
 *
 * void sf__coro_swap(void **save_sp, void *new_sp);
 *   Saves x19-x28, x29 (fp), x30 (lr), d8-d15 and FPCR in a 176-byte frame on the
 *   current stack, stores sp in *save_sp, loads new_sp, restores the same frame and
 *   returns to the restored lr. Frame at the saved sp:
 *     [0] x19 x20 [16] x21 x22 [32] x23 x24 [48] x25 x26 [64] x27 x28 [80] x29 x30
 *     [96] d8 d9 [112] d10 d11 [128] d12 d13 [144] d14 d15 [160] fpcr [168] pad
 *
 * sf__coro_trampoline: first return target of a new coroutine; coro.c sets x19 = the
 *   sf_coro, x29 = 0 and leaves sp 16-byte aligned. Calls sf__coro_entry(c) (no return).
 *   lr is marked undefined so unwinders stop here.
 */
	.text

	.globl	sf__coro_swap
	.hidden	sf__coro_swap
	.type	sf__coro_swap, %function
	.p2align 4
sf__coro_swap:
	.cfi_startproc
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8,  d9,  [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x10, sp
	str	x10, [x0]

	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8,  d9,  [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldr	x10, [sp, #160]
	cmp	x9, x10			/* writing FPCR can be slow: only when it differs */
	b.eq	1f
	msr	fpcr, x10
1:	add	sp, sp, #176
	ret
	.cfi_endproc
	.size	sf__coro_swap, .-sf__coro_swap

	.globl	sf__coro_trampoline
	.hidden	sf__coro_trampoline
	.type	sf__coro_trampoline, %function
	.p2align 4
sf__coro_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x0, x19
	bl	sf__coro_entry
	brk	#0
	.cfi_endproc
	.size	sf__coro_trampoline, .-sf__coro_trampoline

	.section .note.GNU-stack,"",%progbits
