import { GatehouseError } from '../../lib/errors.ts';

/** The users file cannot be used; `problems` lists every reason, each as `<yaml path>: <what is wrong>`. */
export class UsersFileError extends GatehouseError {
  declare readonly code: 'users_file_invalid';
  readonly path: string;
  readonly problems: string[];
  constructor(path: string, problems: string[], options?: { cause?: unknown }) {
    super('users_file_invalid', problems.map((problem) => `users file ${path}: ${problem}`).join('\n'), options);
    this.path = path;
    this.problems = problems;
  }
}

/** The users file could not be read: the errno, and for the usual ones what to do about it. */
export function unreadableUsersFile(path: string, error: unknown): UsersFileError {
  if (error instanceof UsersFileError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const uid = process.getuid?.();
  const hint =
    code === 'ENOENT' ? '; it does not exist: create it with `gatehouse users add NAME`'
    : code === 'EACCES' || code === 'EPERM' ? `; Gatehouse${uid === undefined ? '' : ` (uid ${uid})`} may not read it: make it owned by that user, mode 600`
    : code === 'EISDIR' ? '; the path names a directory: give the path of the users file itself'
    : '';
  return new UsersFileError(path, [`cannot read the file (${code})${hint}`], { cause: error });
}

/** addUser: the name (or a name differing only in case) is already taken. */
export class UserExistsError extends GatehouseError {
  declare readonly code: 'user_exists';
  constructor(username: string) {
    super('user_exists', `user '${username}' already exists`);
  }
}

/** addUser for the first administrator: the users file (as read just now) has a user already. */
export class UsersNotEmptyError extends GatehouseError {
  declare readonly code: 'users_not_empty';
  constructor(path: string) {
    super('users_not_empty', `users file ${path} has a user already`);
  }
}

/** updatePassword/deleteUser: no such user in the users file. */
export class UserNotFoundError extends GatehouseError {
  declare readonly code: 'user_not_found';
  constructor(username: string) {
    super('user_not_found', `user '${username}' does not exist`);
  }
}

/** A value given to a mutation (username, e-mail, group, display name) is not acceptable. */
export class InvalidUserInputError extends GatehouseError {
  declare readonly code: 'invalid_user_input';
  constructor(message: string) {
    super('invalid_user_input', message);
  }
}
