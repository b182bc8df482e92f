/* fds.h — the descriptors leaktag's libraries hold (libunwind's address-validation pipe),
 * kept far above the application's range and close-on-exec: a program sees its first free
 * descriptor where it would without leaktag, and a daemon that closes and reopens its low
 * descriptors never gets one of ours. */
#ifndef LT_FDS_H
#define LT_FDS_H

/* pipe2() for leaktag's own use: the pair is moved above the application's range. */
int lt_fds_pipe2(int fds[2], int flags);

#endif
