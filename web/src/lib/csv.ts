// CSV of a table: a header row and every row (not only the page shown), RFC 4180 quoting.

export function toCsv(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => cells.map(quote).join(",");
  return [line(header), ...rows.map(line)].join("\r\n") + "\r\n";
}

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

export function download(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
