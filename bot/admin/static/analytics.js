// Placeholder: filled by its part.
export async function mount(section) { section.textContent = ""; }
