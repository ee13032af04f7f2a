// Pieces of hostile train.py code shared by the attack tests.

/**
 * Python lines that write `text` to the path the Python expression `file` gives, printing `WROTE <path>`
 * or `refused: <error>`. Whether it worked is judged from the host: under /tmp a write may land in the
 * sandbox's own scratch and look as if it worked.
 */
export function tryWrite(file: string, text: string): string {
  return `
try:
    _target = ${file}
    os.makedirs(os.path.dirname(_target) or ".", exist_ok=True)
    open(_target, "w").write(${JSON.stringify(text)})
    print("WROTE " + _target)
except OSError as e:
    print("refused: " + str(e))
`;
}
