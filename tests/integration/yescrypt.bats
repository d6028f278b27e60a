#!/usr/bin/env bats
# PASSWORD_HASH=yescrypt: new hashes are $y$, bcrypt ones upgraded at login.

load helper

setup_file() {
	export PASSWORD_HASH=yescrypt
	stack_start
}
teardown_file() { stack_stop; }

stored_hash() { db_query "SELECT password_hash FROM users WHERE email = '$1'"; }

@test "registration stores a yescrypt hash and login verifies it" {
	register yes@example.com
	[[ $(stored_hash yes@example.com) == '$y$'* ]]
	api POST /auth/login '{"email":"yes@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
}

@test "a passlib bcrypt hash logs in and is replaced by yescrypt" {
	h='$2b$12$ry.CznLncuoFerDOxCj3KOYBEfM9iQUdHtjUH7v.QybNEzgPeS1.C'
	db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('11111111-2222-4333-8444-555555555555', 'old@example.com', '$h', 0)"
	api POST /auth/login '{"email":"old@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
	[[ $(stored_hash old@example.com) == '$y$'* ]]
	api POST /auth/login '{"email":"old@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
}
