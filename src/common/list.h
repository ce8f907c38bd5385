/* list.h - intrusive circular doubly-linked lists (libuv's QUEUE, linux list.h), the one list of
 * the project.
 *
 * A list is a list_link_t head whose next/prev point at itself when empty; members embed a
 * list_link_t and are recovered with list_entry. Nothing here allocates. A link that is in no
 * list has next == prev == NULL (list_unlink leaves it so, and a zeroed struct starts so).
 *
 *   list_link_t head;                        struct item_s { ...; list_link_t link; };
 *   list_init(&head);                        list_append(&head, &item->link);
 *   LIST_FOREACH_SAFE(l, next, &head) { struct item_s *it = list_entry(l, struct item_s, link);
 *                                       list_unlink(l); free(it); }
 */
#ifndef HERALD_LIST_H
#define HERALD_LIST_H

#include <stddef.h>

typedef struct list_link_s {
    struct list_link_s *next;
    struct list_link_s *prev;
} list_link_t;

#define list_entry(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

/* Every member of head, in order; the body must not unlink `l` (use the _SAFE form for that). */
#define LIST_FOREACH(l, head) for (list_link_t *l = (head)->next; l != (head); l = l->next)
/* Same, and the body may unlink (and free) `l`. */
#define LIST_FOREACH_SAFE(l, n, head)                                                              \
    for (list_link_t *l = (head)->next, *n = l->next; l != (head); l = n, n = l->next)

static inline void list_init(list_link_t *head)
{
    head->next = head;
    head->prev = head;
}

static inline int list_empty(const list_link_t *head)
{
    return head->next == head;
}

/* 1 when link is in some list. */
static inline int list_linked(const list_link_t *link)
{
    return link->next != NULL;
}

/* Appends link (not in any list) at the tail of head. */
static inline void list_append(list_link_t *head, list_link_t *link)
{
    link->prev = head->prev;
    link->next = head;
    head->prev->next = link;
    head->prev = link;
}

/* Inserts link (not in any list) at the head of head. */
static inline void list_prepend(list_link_t *head, list_link_t *link)
{
    link->next = head->next;
    link->prev = head;
    head->next->prev = link;
    head->next = link;
}

/* Removes link from its list; a link in no list is left alone. */
static inline void list_unlink(list_link_t *link)
{
    if (link->next == NULL)
        return;
    link->prev->next = link->next;
    link->next->prev = link->prev;
    link->next = NULL;
    link->prev = NULL;
}

/* First member, or NULL when empty. */
static inline list_link_t *list_first(const list_link_t *head)
{
    return head->next == head ? NULL : head->next;
}

#endif
