/*
 * cairn/mysql.h: the old name of cairn/db.h (the database provider
 * contract).  Kept so that modules written for ABI 1.0 and 1.1 build
 * unchanged; new code includes <cairn/db.h>.
 */

#ifndef CAIRN_MYSQL_H
#define CAIRN_MYSQL_H

#include <cairn/db.h>

#endif /* CAIRN_MYSQL_H */
