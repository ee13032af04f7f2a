// Reading a target: its repository, its committed baseline, its config and its frozen files. Shared by
// the prepare activity and by `autoresearch start`, which checks the same things before it starts a run.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { TargetConfig } from '../common/types';
import { targetError } from '../common/errors';
import { Repo } from '../store/git';
import { branchName } from '../common/names';
import { checkRemote } from '../store/remote';
import { runDir } from '../store/runDirectory';
import { symlinkOnPath } from '../proposers/editGate';
import { CONFIG_FILE, resolveTargetConfig, withOverrides } from './config';
import { shellWord } from '../system/shellWord';

export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkTag(tag: string): void {
  if (!TAG_PATTERN.test(tag))
    throw targetError(
      `Tag "${tag}" is not usable in a branch name: use letters, digits, ".", "_" or "-", e.g. mar5.`,
    );
}

export interface InspectedTarget {
  repo: Repo;
  base: string;
  config: TargetConfig;
  frozenBlobs: Record<string, string>;
}

/** Validates the target at `base` (default: HEAD, which must be clean) and reads its config. */
export async function inspectTarget(
  repoPath: string,
  overrides: { budgetSeconds?: number; timeoutSeconds?: number },
  base?: string,
): Promise<InspectedTarget> {
  const repo = await Repo.open(repoPath);
  if (!base) {
    const dirty = await repo.dirtyFiles();
    if (dirty.length > 0)
      throw targetError(
        `Target ${repo.root} has uncommitted changes (${dirty.slice(0, 5).join(', ')}): the baseline is the committed HEAD, ` +
          'so commit or stash them first.',
      );
  }
  const at = base ?? (await repo.resolve('HEAD'))!;
  const config = withOverrides(
    await resolveTargetConfig(await repo.readFile(at, CONFIG_FILE), async (f) => {
      // git stores a symbolic link as the path it points to: editing or freezing one would commit or
      // compare that path, never the code, so the files a run reads must be regular files.
      const link = await symlinkOnPath(repo, at, f);
      if (link) throw symlinkRefused(f, link);
      return (await repo.blobSha(at, f)) !== null;
    }),
    overrides.budgetSeconds,
    overrides.timeoutSeconds,
  );
  const frozenBlobs: Record<string, string> = {};
  for (const file of config.files.frozen) frozenBlobs[file] = (await repo.blobSha(at, file))!;
  return { repo, base: at, config, frozenBlobs };
}

/**
 * Everything `start` can check before the run exists: tag, target, that the branch is new, and with a
 * remote, that the remote answers and holds no run of this tag.
 */
export async function preflight(
  repoPath: string,
  tag: string,
  overrides: { budgetSeconds?: number; timeoutSeconds?: number; remote?: string },
): Promise<InspectedTarget> {
  checkTag(tag);
  const target = await inspectTarget(repoPath, overrides);
  const branch = branchName(tag);
  if (await target.repo.readRef(`refs/heads/${branch}`)) throw branchTaken(target.repo, tag);
  const earlier = await earlierRun(target.repo, tag);
  if (earlier) throw earlier;
  if (overrides.remote !== undefined) await checkRemote(target.repo, overrides.remote, tag);
  return target;
}

function symlinkRefused(file: string, link: { path: string; target: string }) {
  const fix =
    link.path === file
      ? `Replace the link with the file itself (e.g. \`cp --remove-destination "$(readlink ${file})" ${file}\`) and commit`
      : `Replace the link ${link.path} with the directory itself (copied into the repository) and commit`;
  return targetError(
    `${link.path === file ? file : `${file} lies under ${link.path}, which`} is a symbolic link in the target ` +
      `(to ${link.target}): autoresearch edits and freezes file contents, so the files it names must be regular ` +
      `files in the repository. ${fix}, or name the real file in ${CONFIG_FILE}.`,
  );
}

export function branchTaken(repo: Repo, tag: string) {
  const branch = branchName(tag);
  // The branch of an earlier run (its results are in the run directory) is not the user's to lose.
  if (existsSync(path.join(runDir(repo.commonDir, tag), 'owner.json')))
    return targetError(
      `Branch ${branch} already exists in ${repo.root}: it holds the run with tag ${tag} (autoresearch-${tag}), ` +
        `which may still be going (see \`autoresearch status --tag ${tag}\`). Start this run with a new tag ` +
        `(e.g. --tag ${tag}b); the earlier run's branch and results stay as they are.`,
    );
  return targetError(
    `Branch ${branch} already exists in ${repo.root}: each run needs a new tag (e.g. --tag ${tag}b), ` +
      `or delete the old branch with \`git branch -D ${branch}\`.`,
  );
}

/**
 * What an earlier run of `tag` left behind once its branch is gone: its refs (candidates under
 * refs/autoresearch/<tag>/) and its run directory (records, results, the trainings' saved outcomes).
 * A new run of the tag would take them for its own work (an experiment "trained" from an old outcome,
 * old records in results.tsv), so it is refused with the commands that remove them; null when none.
 */
export async function earlierRun(repo: Repo, tag: string) {
  const prefix = `refs/autoresearch/${tag}/`;
  const refs = (await repo.raw(['for-each-ref', '--format=%(refname)', prefix])).split('\n').filter(Boolean);
  const dir = runDir(repo.commonDir, tag);
  const dirLeft = existsSync(dir) && readdirSync(dir).length > 0;
  if (refs.length === 0 && !dirLeft) return null;
  const left = [
    ...(refs.length > 0 ? [`its candidate refs (${refs.length} under ${prefix}, e.g. ${refs[0]})`] : []),
    ...(dirLeft ? [`its run directory ${dir}`] : []),
  ];
  const commands = [
    ...(refs.length > 0
      ? [
          `git -C ${shellWord(repo.root)} for-each-ref --format='delete %(refname)' ${prefix} | ` +
            `git -C ${shellWord(repo.root)} update-ref --stdin`,
        ]
      : []),
    ...(dirLeft ? [`rm -rf ${shellWord(dir)}`] : []),
  ];
  return targetError(
    `An earlier run tagged ${tag} left ${left.join(' and ')} in ${repo.root}: a new run of this tag would take ` +
      `that run's candidates and results for its own. Start this run with a new tag (e.g. --tag ${tag}b), or, ` +
      `once the earlier run is over (\`autoresearch status --tag ${tag}\`) and its results are not needed, ` +
      `remove what it left with ${commands.map((c) => `\`${c}\``).join(' and ')}.`,
  );
}
