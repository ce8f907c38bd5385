/* comet_list.h - intrusive circular doubly-linked lists (libuv QUEUE, linux list.h).
 *
 * A list is a comet_link_t head whose next/prev point at itself when empty; members embed a
 * comet_link_t and are recovered with comet_container_of. Nothing here allocates. A link that
 * is in no list has next == prev == NULL (comet_list_unlink leaves it so).
 */
#ifndef COMET_LIST_H
#define COMET_LIST_H

#include <stddef.h>

typedef struct comet_link_s {
    struct comet_link_s *next;
    struct comet_link_s *prev;
} comet_link_t;

#define comet_container_of(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

static inline void comet_list_init(comet_link_t *head)
{
    head->next = head;
    head->prev = head;
}

static inline int comet_list_empty(const comet_link_t *head)
{
    return head->next == head;
}

/* Appends link (not in any list) at the tail of head. */
static inline void comet_list_append(comet_link_t *head, comet_link_t *link)
{
    link->prev = head->prev;
    link->next = head;
    head->prev->next = link;
    head->prev = link;
}

/* Removes link from its list; a link in no list is left alone. */
static inline void comet_list_unlink(comet_link_t *link)
{
    if (link->next == NULL)
        return;
    link->prev->next = link->next;
    link->next->prev = link->prev;
    link->next = NULL;
    link->prev = NULL;
}

/* First member, or NULL when empty. */
static inline comet_link_t *comet_list_first(const comet_link_t *head)
{
    return head->next == head ? NULL : head->next;
}

#endif
