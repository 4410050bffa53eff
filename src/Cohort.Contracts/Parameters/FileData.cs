using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Cohort.Parameters;

/// <summary>Flushes a file's data to disk without its timestamps (<c>fdatasync</c> on Linux, a full flush elsewhere).</summary>
internal static partial class FileData
{
    /// <summary>
    /// Flushes <paramref name="file"/>'s data and what reading it back needs (its size, its blocks), but not its
    /// modification time: after an overwrite in place nothing else changed, and a flush that also recorded the time
    /// would wait for the file system's journal.
    /// </summary>
    public static void Flush(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(file);
            return;
        }
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            if (FDataSync((int)file.DangerousGetHandle()) != 0)
                throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: the full flush, which every C library has.
            RandomAccess.FlushToDisk(file);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(int fd);
}
