/* qfile_format.h - byte layout constants of the .qlow container (version 1.0). docs/format.md is the
 * specification; keep the two in step. */
#ifndef QLOW_IO_QFILE_FORMAT_H
#define QLOW_IO_QFILE_FORMAT_H

#include "io/io_internal.h"

#define QF_VERSION_MAJOR 1
#define QF_VERSION_MINOR 0
#define QF_PREAMBLE_BYTES 64
#define QF_FOOTER_BYTES 64
#define QF_TENSOR_ENTRY 96
#define QF_META_ENTRY 32
#define QF_MIN_ALIGN 64
#define QF_MAX_ALIGN 65536

static const unsigned char qf_magic_head[8] = {0x89, 'Q', 'L', 'O', 'W', 0x0D, 0x0A, 0x1A};
static const unsigned char qf_magic_foot[8] = {'Q', 'L', 'O', 'W', 'E', 'N', 'D', 0x1A};

/* Preamble field offsets. */
#define QF_P_MAJOR 8
#define QF_P_MINOR 10
#define QF_P_ALIGN 12
#define QF_P_FLAGS 16
#define QF_P_CRC 60
/* Footer field offsets. */
#define QF_F_MAJOR 8
#define QF_F_MINOR 10
#define QF_F_NTENSORS 12
#define QF_F_NMETA 16
#define QF_F_DIRCRC 20
#define QF_F_DIROFF 24
#define QF_F_DIRBYTES 32
#define QF_F_FILEBYTES 40
#define QF_F_CRC 60
/* Tensor entry field offsets. */
#define QF_T_NAMEOFF 0
#define QF_T_NAMELEN 8
#define QF_T_KIND 12
#define QF_T_TYPE 16
#define QF_T_BITS 20
#define QF_T_NDIM 24
#define QF_T_FLAGS 28
#define QF_T_SHAPE 32
#define QF_T_DATAOFF 64
#define QF_T_DATABYTES 72
#define QF_T_CRC 80
#define QF_T_RESERVED 84 /* 12 zero bytes */
/* Metadata entry field offsets. */
#define QF_M_KEYOFF 0
#define QF_M_KEYLEN 8
#define QF_M_TYPE 12
#define QF_M_VALOFF 16
#define QF_M_VALLEN 24

#endif
