/* Segment selectors and GDT/TSS setup (gdt.c). */
#ifndef GUEST_GDT_H
#define GUEST_GDT_H


#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_DS 0x18 /* used with RPL 3 */
#define GDT_USER_CS 0x20
#define GDT_TSS 0x28     /* 16 bytes */
#define GDT_IST_FAULT 1  /* IST slot for double fault */

#ifndef __ASSEMBLER__
#include <stdint.h>

void gdt_init(void);
/* An application processor's own table and TSS: made by the boot CPU
 * (NULL: no memory), loaded by the processor itself. */
struct gdt_cpu;
struct gdt_cpu *gdt_alloc_ap(void);
void gdt_load_ap(struct gdt_cpu *c);

/* The boot CPU's table and TSS (gdt_init's). */
struct gdt_cpu *gdt_boot(void);
/* Sets the stack CPU c (its table) switches to on an interrupt from
 * ring 3. */
void gdt_set_kernel_stack(struct gdt_cpu *c, uint64_t rsp0);

#endif

#endif
