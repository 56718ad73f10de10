/** A horizontal bar drawn with HTML and CSS: `share` of the full width (0..1). */
export function Bar({ share, label }: { share: number; label: string }) {
  const pct = Math.max(0, Math.min(1, share)) * 100;
  return (
    <span class="bar" role="presentation" title={label}>
      <span class="bar-fill" style={{ width: `${pct}%` }} />
    </span>
  );
}
